"""Stripe coupon -> row (from ``coupon.*`` events and ``flask stripe refresh-coupons``), never older over newer."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping
from typing import Any

from .. import signals
from ..core.batch import BatchSummary
from ..core.notify import send_committed
from ..core.state import get_state
from ..models import freshness
from ..models.base import from_timestamp
from ..models.coupon import IMMUTABLE_FIELDS, StripeCoupon
from .lookup import coupon_query

# -- Stripe -> rows ------------------------------------------------------------------------------------------


def apply_stripe_coupon(coupon: StripeCoupon, data: Mapping[str, Any], seen_at: dt.datetime | None = None) -> bool:
    """Copy a Stripe coupon onto the row unless the row holds newer data; return whether a field changed.

    Does not commit.
    """
    if freshness.is_older(coupon, seen_at):
        return False
    before = _fields(coupon)
    percent = data.get("percent_off")
    with coupon.applying_stripe():
        coupon.coupon_id = data.get("id") or coupon.coupon_id
        coupon.amount_off = data.get("amount_off")
        coupon.percent_off = decimal.Decimal(str(percent)) if percent is not None else None
        coupon.currency = data.get("currency") if data.get("amount_off") is not None else None
        coupon.duration = data.get("duration") or coupon.duration
        coupon.duration_in_months = data.get("duration_in_months")
        coupon.max_redemptions = data.get("max_redemptions")
        coupon.redeem_by = from_timestamp(data.get("redeem_by"))
    coupon.name = data.get("name")
    coupon.times_redeemed = int(data.get("times_redeemed") or 0)
    coupon.valid = bool(data.get("valid", True))
    if isinstance(data.get("metadata"), Mapping):
        coupon.metadata_ = dict(data["metadata"])
    coupon.created = from_timestamp(data.get("created")) or coupon.created
    coupon.is_created_at_stripe = True
    freshness.remember(coupon, data, seen_at)
    return before != _fields(coupon)


def new_coupon_from_stripe(data: Mapping[str, Any], seen_at: dt.datetime | None = None) -> StripeCoupon:
    """A new row (added to the session, not committed) mirroring a coupon made elsewhere (the Dashboard)."""
    coupon = StripeCoupon(coupon_id=data["id"])
    apply_stripe_coupon(coupon, data, seen_at)
    get_state().db.session.add(coupon)
    return coupon


def refresh_coupons(on_progress: Callable[[int], None] | None = None) -> BatchSummary:
    """Reconcile the coupons here with Stripe's list (every page).  Calls Stripe.

    A coupon at Stripe and not here is created; one in both is updated; one here (not deleted) and not at
    Stripe is marked deleted; a coupon whose data cannot be applied is a failure in the summary, and the others
    go on.  Commits once, then sends :data:`~flask_stripe_billing.signals.coupon_synced` for
    each change.
    """
    session = get_state().db.session
    local = {coupon.coupon_id: coupon for coupon in session.scalars(coupon_query())}
    summary = BatchSummary("created", "updated", "deleted", "unchanged")
    changes: list[tuple[StripeCoupon, str]] = []
    seen: set[str] = set()
    for data in get_state().gateway.list_all("/v1/coupons"):
        seen.add(data["id"])
        coupon = local.get(data["id"])
        try:
            outcome = _reconcile(coupon, data)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # one odd coupon must not stop the rest
            if coupon is not None:
                session.expire(coupon)  # drop what was half applied
            summary.failures.add(f"coupon {data.get('id')}", exc)
        else:
            setattr(summary, outcome[1], getattr(summary, outcome[1]) + 1)
            if outcome[1] != "unchanged":
                changes.append(outcome)
        if on_progress is not None:
            on_progress(1)
    for coupon_id, coupon in local.items():
        # A coupon not (yet) created at Stripe is not missing there: its creation may still be under way.
        if coupon_id not in seen and coupon.is_created_at_stripe:
            coupon.is_deleted = True
            changes.append((coupon, "deleted"))
            summary.deleted += 1
    session.commit()
    for coupon, action in changes:
        send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action=action)
    return summary


def _reconcile(coupon: StripeCoupon | None, data: Mapping[str, Any]) -> tuple[StripeCoupon, str]:
    """Apply Stripe's *data* to the local *coupon* (or a new row); return the row and what became of it."""
    if coupon is None:
        return new_coupon_from_stripe(data, freshness.fetched_now()), "created"
    if apply_stripe_coupon(coupon, data, freshness.fetched_now()) or not coupon.is_created_at_stripe:
        coupon.is_created_at_stripe = True  # a creation whose answer was lost: Stripe has it
        return coupon, "updated"
    return coupon, "unchanged"


def _fields(coupon: StripeCoupon) -> tuple[Any, ...]:
    return tuple(getattr(coupon, name) for name in (*IMMUTABLE_FIELDS, "name", "times_redeemed", "valid", "metadata_"))

"""Stripe coupon -> row (from ``coupon.*`` events and ``flask stripe refresh-coupons``), never older over newer."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import signals
from ..core.notify import send_committed
from ..core.state import get_state
from ..models import freshness
from ..models.base import from_timestamp
from ..models.coupon import IMMUTABLE_FIELDS, StripeCoupon
from .lookup import live_coupons

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


@dataclass
class CouponRefreshSummary:
    """What :func:`refresh_coupons` did."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


def refresh_coupons(on_progress: Callable[[int], None] | None = None) -> CouponRefreshSummary:
    """Reconcile the coupons here with Stripe's list (every page).  Calls Stripe.

    A coupon at Stripe and not here is created; one in both is updated; one here (not deleted) and not at
    Stripe is marked deleted.  Commits once, then sends :data:`~flask_stripe_billing.signals.coupon_synced` for
    each change.
    """
    session = get_state().db.session
    local = {coupon.coupon_id: coupon for coupon in session.scalars(live_coupons())}
    summary = CouponRefreshSummary()
    changes: list[tuple[StripeCoupon, str]] = []
    seen: set[str] = set()
    for data in get_state().gateway.list_all("/v1/coupons"):
        seen.add(data["id"])
        coupon = local.get(data["id"])
        if coupon is None:
            changes.append((new_coupon_from_stripe(data, freshness.fetched_now()), "created"))
            summary.created += 1
        elif apply_stripe_coupon(coupon, data, freshness.fetched_now()) or not coupon.is_created_at_stripe:
            coupon.is_created_at_stripe = True  # a creation whose answer was lost: Stripe has it
            changes.append((coupon, "updated"))
            summary.updated += 1
        else:
            summary.unchanged += 1
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


def _fields(coupon: StripeCoupon) -> tuple[Any, ...]:
    return tuple(getattr(coupon, name) for name in (*IMMUTABLE_FIELDS, "name", "times_redeemed", "valid", "metadata_"))

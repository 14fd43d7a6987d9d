"""Coupons, kept in sync with Stripe both ways.

Creating, renaming, changing the metadata of and deleting a coupon through this module does the same at
Stripe; ``coupon.*`` webhooks and ``flask stripe refresh-coupons`` bring changes made in the Stripe Dashboard
back.  Stripe lets nobody change a coupon's discount, duration or limits once it exists: a change to those is
refused with :class:`~flask_stripe_billing.errors.CouponError` (delete the coupon and create another).

Deleting keeps the row with ``is_deleted=True``.  Queries built with
:func:`~flask_stripe_billing.coupons.lookup.coupon_query` leave deleted coupons out unless asked, and
:func:`~flask_stripe_billing.coupons.lookup.live_coupons` also those not (yet) created at Stripe; a coupon id
used again after a deletion is a new row.  ``percent_off`` is a :class:`~decimal.Decimal`; ``amount_off`` is an
integer in the minor unit of ``currency``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import secrets
from collections.abc import Mapping
from typing import Any

from .. import errors, signals
from ..core.notify import send_committed
from ..core.state import get_state
from ..models.base import utcnow
from ..models.coupon import IMMUTABLE_FIELDS, CouponDuration, StripeCoupon
from ..models.freshness import fetched_now
from ..money import is_currency, is_positive_amount
from .from_stripe import apply_stripe_coupon
from .lookup import coupon_query

#: What :func:`create_coupon` accepts: the fields fixed at creation, plus the two that can change later.
CREATE_FIELDS = frozenset({*IMMUTABLE_FIELDS, "name", "metadata"})

_COUPON_ID = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


# -- verbs (each calls Stripe) -------------------------------------------------------------------------------


def create_coupon(**fields: Any) -> StripeCoupon:
    """Create a coupon at Stripe and store it.  Calls Stripe.

    :param coupon_id: the code customers type; a random one when omitted.  Chosen and committed with the
        idempotency key before the request, so a retry (calling this again with the same id after an unknown
        outcome) replays the same request.
    :param percent_off: a :class:`~decimal.Decimal` (or a string or number), more than 0 and at most 100, two
        decimals at most; or
    :param amount_off: a positive integer in the minor unit of *currency* (required with it).
    :param duration: ``"once"`` (default), ``"forever"`` or ``"repeating"`` (with *duration_in_months*).
    :param name: shown to customers; *max_redemptions*, *redeem_by* (an aware datetime in the future) and
        *metadata* are optional.
    :raises flask_stripe_billing.errors.CouponError: for bad input or an id already used by a live coupon,
        before any request.

    :data:`~flask_stripe_billing.signals.coupon_synced` (``action="created"``) is sent after the commit.  If
    Stripe refuses, the row is deleted again.
    """
    values = validate_coupon_fields(fields)
    existing = _live_with_id(values["coupon_id"])
    # A row left by an earlier call whose outcome was unknown is reused with its key: Stripe replays its answer.
    return _create_at_stripe(existing or StripeCoupon(), values)


def create_coupon_row(coupon: StripeCoupon) -> StripeCoupon:
    """Create at Stripe the coupon a new row describes (``StripeCoupon(coupon_id=..., percent_off=...)``), and
    store that row.  Calls Stripe.  The checks, errors and signal are :func:`create_coupon`'s.

    :raises flask_stripe_billing.errors.CouponError: for bad fields, a row already created at Stripe, or an id
        already used by another live coupon, before any request.
    """
    if coupon.is_created_at_stripe:
        raise errors.CouponError(f"Coupon {coupon.coupon_id!r} already exists at Stripe.")
    fields = {name: getattr(coupon, name) for name in (*IMMUTABLE_FIELDS, "name") if getattr(coupon, name) is not None}
    fields.update(coupon_id=coupon.coupon_id, metadata=coupon.metadata_)
    values = validate_coupon_fields(fields)
    existing = _live_with_id(values["coupon_id"])
    if existing is not None and existing is not coupon:
        raise errors.CouponError(f"Coupon id {values['coupon_id']!r} is already used by another coupon row.")
    return _create_at_stripe(coupon, values)


def _live_with_id(coupon_id: str) -> StripeCoupon | None:
    existing = get_state().db.session.scalars(coupon_query().where(StripeCoupon.coupon_id == coupon_id)).first()
    if existing is not None and existing.is_created_at_stripe:
        raise errors.CouponError(f"Coupon id {coupon_id!r} is already used by a live coupon.")
    return existing


def _create_at_stripe(coupon: StripeCoupon, values: dict[str, Any]) -> StripeCoupon:
    state = get_state()
    session = state.db.session
    if coupon.idempotency_key is None:
        coupon.idempotency_key = state.gateway.new_idempotency_key("coupon", "create")
    with coupon.applying_stripe():
        for name, value in values.items():
            setattr(coupon, "metadata_" if name == "metadata" else name, value)
    session.add(coupon)
    session.commit()
    params = {name: _form_value(value) for name, value in values.items() if value is not None and name != "coupon_id"}
    params["id"] = values["coupon_id"]
    try:
        data = state.gateway.request("post", "/v1/coupons", params, idempotency_key=coupon.idempotency_key)
    except errors.OutcomeUnknownError:
        raise
    except errors.StripeRequestError:
        session.delete(coupon)
        session.commit()
        raise
    coupon.is_created_at_stripe = True
    apply_stripe_coupon(coupon, data)
    session.commit()
    send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action="created")
    return coupon


def validate_coupon_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise :func:`create_coupon`'s arguments; return the values to store.

    :raises flask_stripe_billing.errors.CouponError: naming the problem.
    """
    unknown = set(fields) - CREATE_FIELDS
    if unknown:
        raise errors.CouponError(f"Unknown coupon field(s): {', '.join(sorted(unknown))}.")
    percent_off, amount_off = fields.get("percent_off"), fields.get("amount_off")
    if (percent_off is None) == (amount_off is None):
        raise errors.CouponError("Give exactly one of percent_off and amount_off.")
    currency = fields.get("currency")
    values: dict[str, Any] = {
        "coupon_id": fields.get("coupon_id") or f"FSB{secrets.token_hex(6).upper()}",
        "name": fields.get("name"),
        "percent_off": None,
        "amount_off": None,
        "currency": None,
        "duration": fields.get("duration") or CouponDuration.ONCE,
        "duration_in_months": fields.get("duration_in_months"),
        "max_redemptions": fields.get("max_redemptions"),
        "redeem_by": fields.get("redeem_by"),
        "metadata": dict(fields.get("metadata") or {}),
    }
    if not isinstance(values["coupon_id"], str) or not _COUPON_ID.match(values["coupon_id"]):
        raise errors.CouponError("coupon_id may hold letters, digits, '-' and '_' only (at most 200).")
    if values["name"] is not None and (not isinstance(values["name"], str) or len(values["name"]) > 40):
        raise errors.CouponError("name must be a string of at most 40 characters.")
    if percent_off is not None:
        values["percent_off"] = _percent(percent_off)
        if currency is not None:
            raise errors.CouponError("currency goes with amount_off only.")
    else:
        if not is_positive_amount(amount_off):
            raise errors.CouponError(f"amount_off must be a positive integer in minor units, not {amount_off!r}.")
        if not is_currency(currency):
            raise errors.CouponError("amount_off needs a currency Stripe supports, in lowercase such as 'usd'.")
        values["amount_off"], values["currency"] = amount_off, currency
    try:
        values["duration"] = CouponDuration(values["duration"])
    except ValueError:
        raise errors.CouponError(f"duration must be once, forever or repeating, not {values['duration']!r}.") from None
    months = values["duration_in_months"]
    if values["duration"] == CouponDuration.REPEATING:
        if isinstance(months, bool) or not isinstance(months, int) or months <= 0:
            raise errors.CouponError("A repeating coupon needs duration_in_months, a positive integer.")
    elif months is not None:
        raise errors.CouponError("duration_in_months goes with duration='repeating' only.")
    redemptions = values["max_redemptions"]
    if redemptions is not None and (
        isinstance(redemptions, bool) or not isinstance(redemptions, int) or redemptions <= 0
    ):
        raise errors.CouponError("max_redemptions must be a positive integer.")
    redeem_by = values["redeem_by"]
    if redeem_by is not None and (
        not isinstance(redeem_by, dt.datetime) or redeem_by.tzinfo is None or redeem_by <= utcnow()
    ):
        raise errors.CouponError("redeem_by must be a timezone-aware datetime in the future.")
    _check_metadata(values["metadata"])
    return values


def _percent(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise errors.CouponError("percent_off must be a number.")
    try:
        percent = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise errors.CouponError(f"percent_off must be a number, not {value!r}.") from None
    if not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(decimal.Decimal("0.01")):
        raise errors.CouponError(
            f"percent_off must be more than 0 and at most 100, with two decimals at most: {value!r}."
        )
    return percent


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, Mapping) or not all(isinstance(key, str) for key in metadata):
        raise errors.CouponError("metadata must be a dict with string keys.")


def _form_value(value: Any) -> Any:
    """A value as Stripe's form encoding wants it (decimals as strings, times as epoch seconds)."""
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, CouponDuration):
        return value.value
    if isinstance(value, dict):
        return {str(key): str(item) for key, item in value.items()}
    return value


def update_coupon(
    coupon: StripeCoupon, *, name: str | None = None, metadata: Mapping[str, Any] | None = None, **other: Any
) -> StripeCoupon:
    """Change a coupon's *name* and/or *metadata* at Stripe and here.  Calls Stripe.

    *metadata* replaces the coupon's metadata (keys left out are removed at Stripe).  Any other field is
    refused: Stripe does not let it change.  Sends :data:`~flask_stripe_billing.signals.coupon_synced`
    (``action="updated"``) after the commit.

    :raises flask_stripe_billing.errors.CouponError: for another field, a deleted coupon, or one never created
        at Stripe, before any request.
    """
    if other:
        immutable, unknown = sorted(set(other) & set(IMMUTABLE_FIELDS)), sorted(set(other) - set(IMMUTABLE_FIELDS))
        problems = [f"{', '.join(immutable)} cannot change at Stripe once a coupon exists"] if immutable else []
        problems += [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
        raise errors.CouponError(
            f"Coupon {coupon.coupon_id!r}: {'; '.join(problems)}. Only name and metadata can change; delete the "
            "coupon and create another."
        )
    if not coupon.is_live:
        raise errors.CouponError(f"Coupon {coupon.coupon_id!r} is deleted or was never created at Stripe.")
    params: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str) or len(name) > 40:
            raise errors.CouponError("name must be a string of at most 40 characters.")
        params["name"] = name
    if metadata is not None:
        _check_metadata(metadata)
        removed = {key: "" for key in (coupon.metadata_ or {}) if key not in metadata}
        params["metadata"] = {**removed, **{str(key): str(value) for key, value in metadata.items()}}
    if not params:
        return coupon
    data = get_state().gateway.request(
        "post", f"/v1/coupons/{coupon.coupon_id}", params, object_type="coupon", action="update"
    )
    apply_stripe_coupon(coupon, data)
    get_state().db.session.commit()
    send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action="updated")
    return coupon


def delete_coupon(coupon: StripeCoupon) -> StripeCoupon:
    """Delete a coupon at Stripe and mark the row ``is_deleted``.  Calls Stripe.

    A coupon already gone at Stripe is not an error.  Subscriptions keep the discounts they already have.
    Sends :data:`~flask_stripe_billing.signals.coupon_synced` (``action="deleted"``) after the commit.
    """
    if coupon.is_deleted:
        return coupon
    if coupon.is_created_at_stripe:
        try:
            get_state().gateway.request(
                "delete", f"/v1/coupons/{coupon.coupon_id}", object_type="coupon", action="delete"
            )
        except errors.InvalidRequestError as exc:
            if not exc.is_missing:
                raise
    coupon.is_deleted = True
    get_state().db.session.commit()
    send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action="deleted")
    return coupon


def refresh_coupon(coupon: StripeCoupon) -> StripeCoupon:
    """Re-read *coupon* from Stripe and store it; a coupon deleted there is marked deleted here.  Calls Stripe.

    Sends :data:`~flask_stripe_billing.signals.coupon_synced` (``"updated"`` or ``"deleted"``) when something
    changed.
    """
    state = get_state()
    try:
        data = state.gateway.request("get", f"/v1/coupons/{coupon.coupon_id}")
    except errors.InvalidRequestError as exc:
        if not exc.is_missing or not coupon.is_created_at_stripe or coupon.is_deleted:
            raise
        coupon.is_deleted = True
        state.db.session.commit()
        send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action="deleted")
        return coupon
    changed = apply_stripe_coupon(coupon, data, fetched_now()) or not coupon.is_created_at_stripe
    coupon.is_created_at_stripe = True
    state.db.session.commit()
    if changed:
        send_committed(signals.coupon_synced, StripeCoupon, instance=coupon, action="updated")
    return coupon

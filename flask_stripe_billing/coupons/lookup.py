"""Finding coupons: the queries that leave deleted and expired coupons out, and the JSON shape of a coupon."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa

from .. import errors
from ..core.shapes import could_be_stripe_id
from ..core.state import get_state
from ..models.base import utcnow
from ..models.coupon import StripeCoupon

# -- queries (database only) ---------------------------------------------------------------------------------


def coupon_query(*, include_deleted: bool = False) -> sa.Select[StripeCoupon]:
    """A ``select`` of coupons, leaving deleted ones out unless *include_deleted*."""
    query = sa.select(StripeCoupon).order_by(StripeCoupon.id)
    return query if include_deleted else query.where(StripeCoupon.is_deleted.is_(False))


def live_coupons() -> sa.Select[StripeCoupon]:
    """A ``select`` of the live coupons: created at Stripe and not deleted (:attr:`StripeCoupon.is_live
    <flask_stripe_billing.models.StripeCoupon.is_live>`).  Add ``.where(...)`` as needed."""
    return coupon_query().where(StripeCoupon.is_created_at_stripe.is_(True))


def get_live_coupon(coupon_id: str) -> StripeCoupon | None:
    """The coupon with this id that is not deleted and exists at Stripe, or ``None``.  Reads only the database."""
    if not could_be_stripe_id(coupon_id):
        return None
    query = live_coupons().where(StripeCoupon.coupon_id == coupon_id)
    return get_state().db.session.scalars(query).first()


def resolve_coupon(coupon: StripeCoupon | str | None, *, redeeming: bool = True) -> StripeCoupon | None:
    """The live coupon row for *coupon* (a row or a coupon id), or ``None`` for ``None``.  Reads only the database.

    With *redeeming* (the default: a new request applying the coupon), one that can no longer be redeemed is
    refused too: ``valid=False`` at Stripe (``redeem_by`` passed, ``max_redemptions`` used up) or ``redeem_by``
    passed here.  ``redeeming=False`` is for sending again a request already sent, whose outcome is unknown.

    :raises flask_stripe_billing.errors.SubscriptionError: for an unknown, deleted or not yet created coupon, or
        (when *redeeming*) one that can no longer be redeemed.
    """
    if coupon is None:
        return None
    row = get_live_coupon(coupon) if isinstance(coupon, str) else coupon
    if row is None or not row.is_live:
        name = coupon if isinstance(coupon, str) else coupon.coupon_id
        raise errors.SubscriptionError(f"No live coupon {name!r}: unknown, deleted or never created at Stripe.")
    if redeeming and (not row.valid or (row.redeem_by is not None and row.redeem_by <= utcnow())):
        raise errors.SubscriptionError(f"Coupon {row.coupon_id!r} can no longer be redeemed: it expired or is used up.")
    return row


def coupon_json(coupon: StripeCoupon) -> dict[str, Any]:
    """The public fields of a coupon (for ``GET /api/coupons/<coupon_id>``): nothing internal, nothing raw."""
    return {
        "id": coupon.coupon_id,
        "name": coupon.name,
        "percent_off": _two_decimals(coupon.percent_off),
        "amount_off": coupon.amount_off,
        "currency": coupon.currency,
        "duration": coupon.duration,
        "duration_in_months": coupon.duration_in_months,
        "redeem_by": coupon.redeem_by.isoformat() if coupon.redeem_by else None,
        "valid": coupon.valid,
    }


def _two_decimals(value: decimal.Decimal | None) -> str | None:
    """A percentage as a string with two decimals (``"12.50"``), as stored, whether read back or not."""
    return None if value is None else str(decimal.Decimal(value).quantize(decimal.Decimal("0.01")))

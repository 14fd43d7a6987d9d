"""``StripeCoupon``: a discount, kept in sync with Stripe both ways."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin


class CouponDuration(enum.StrEnum):
    """How long a coupon applies to a subscription."""

    FOREVER = "forever"
    ONCE = "once"
    REPEATING = "repeating"


class StripeCoupon(StripeObjectMixin, Base):
    """A coupon: either ``percent_off`` (a decimal) or ``amount_off`` (minor units of ``currency``).

    Deleting a coupon keeps the row with ``is_deleted=True``; a coupon id used again after a deletion is a new
    row, so ``coupon_id`` is unique only among coupons that are not deleted.
    """

    __tablename__ = f"{TABLE_PREFIX}coupons"
    __table_args__ = (
        sa.Index(
            f"uq_{TABLE_PREFIX}coupons_live_coupon_id",
            "coupon_id",
            unique=True,
            postgresql_where=sa.text("NOT is_deleted"),
            sqlite_where=sa.text("NOT is_deleted"),
        ),
        sa.CheckConstraint("amount_off IS NULL OR amount_off > 0", name="amount_off_positive"),
        sa.CheckConstraint("percent_off IS NULL OR (percent_off > 0 AND percent_off <= 100)", name="percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    amount_off: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    percent_off: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(5, 2), default=None)
    currency: Mapped[str | None] = mapped_column(sa.String(3), default=None)
    duration: Mapped[str] = mapped_column(sa.String(10), default=CouponDuration.ONCE)
    duration_in_months: Mapped[int | None] = mapped_column(default=None)
    max_redemptions: Mapped[int | None] = mapped_column(default=None)
    redeem_by: Mapped[dt.datetime | None] = mapped_column(default=None)
    times_redeemed: Mapped[int] = mapped_column(default=0)
    valid: Mapped[bool] = mapped_column(default=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    is_deleted: Mapped[bool] = mapped_column(default=False, index=True)
    is_created_at_stripe: Mapped[bool] = mapped_column(default=False)
    #: Stripe's ``created`` time of the coupon.
    created: Mapped[dt.datetime | None] = mapped_column(default=None)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), default=None)

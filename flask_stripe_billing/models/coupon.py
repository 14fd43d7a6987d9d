"""``StripeCoupon``: a discount, kept in sync with Stripe both ways."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..errors import CouponError
from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin
from .ports import VerbsPort

#: Fields Stripe does not let anyone change once a coupon exists (only ``name`` and ``metadata`` can change).
IMMUTABLE_FIELDS = (
    "coupon_id",
    "amount_off",
    "percent_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "redeem_by",
)


class CouponDuration(enum.StrEnum):
    """How long a coupon applies to a subscription."""

    FOREVER = "forever"
    ONCE = "once"
    REPEATING = "repeating"


def _with_partial_indexes(
    ddl: Any, target: Any, bind: Any, tables: Any = None, state: Any = None, *, dialect: sa.Dialect, **kw: Any
) -> bool:
    """Whether the database creating the tables has partial indexes (MariaDB and MySQL have none)."""
    return dialect.name in ("postgresql", "sqlite")


class StripeCoupon(StripeObjectMixin, Base):
    """A coupon: either ``percent_off`` (a decimal) or ``amount_off`` (minor units of ``currency``).

    Deleting a coupon keeps the row with ``is_deleted=True``; a coupon id used again after a deletion is a new
    row, so ``coupon_id`` is unique only among coupons that are not deleted.

    Change coupons through :mod:`flask_stripe_billing.coupons.verbs` (``create_coupon``, ``update_coupon``,
    ``delete_coupon``), which change them at Stripe too.  Once a coupon exists at Stripe, assigning a new value
    to one of :data:`IMMUTABLE_FIELDS` raises :class:`~flask_stripe_billing.errors.CouponError` at once:
    Stripe would keep the old value, and a row that says otherwise would be lying.  Setting ``name`` or
    ``metadata_`` directly (or a bulk SQL ``UPDATE``) changes only the database, not Stripe.
    """

    __tablename__ = f"{TABLE_PREFIX}coupons"
    __table_args__ = (
        # A partial unique index: MariaDB and MySQL have none, and there Stripe itself (which refuses a second
        # coupon with a live id) and create_coupon's check keep live ids unique.
        sa.Index(
            f"uq_{TABLE_PREFIX}coupons_live_coupon_id",
            "coupon_id",
            unique=True,
            postgresql_where=sa.text("NOT is_deleted"),
            sqlite_where=sa.text("NOT is_deleted"),
        ).ddl_if(callable_=_with_partial_indexes),
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

    @validates(*IMMUTABLE_FIELDS)
    def _refuse_immutable_change(self, key: str, value: Any) -> Any:
        if self.is_created_at_stripe and not getattr(self, "_applying_stripe", False):
            current = getattr(self, key)
            if _normalized(current) != _normalized(value):
                raise CouponError(
                    f"Coupon {self.coupon_id!r}: {key} cannot change once the coupon exists at Stripe "
                    f"(only name and metadata can); delete it and create a new coupon instead."
                )
        return value

    @contextlib.contextmanager
    def applying_stripe(self) -> Iterator[None]:
        """Within this block, fields are copied from Stripe's own object, so immutable ones may be set."""
        self._applying_stripe = True
        try:
            yield
        finally:
            self._applying_stripe = False

    @property
    def is_live(self) -> bool:
        """Whether the coupon exists at Stripe and is not deleted.  Reads only the row."""
        return self.is_created_at_stripe and not self.is_deleted

    # -- verbs: each calls Stripe (see flask_stripe_billing.coupons.verbs) ------------------------------------

    def create_at_stripe(self) -> StripeCoupon:
        """Create this new row's coupon at Stripe and store it (see
        :func:`flask_stripe_billing.coupons.verbs.create_coupon_row`).  Calls Stripe."""
        return COUPON_VERBS().create(self)

    def update_at_stripe(self, *, name: str | None = None, metadata: Mapping[str, Any] | None = None) -> StripeCoupon:
        """Change the name and/or metadata here and at Stripe (see
        :func:`flask_stripe_billing.coupons.verbs.update_coupon`).  Calls Stripe."""
        return COUPON_VERBS().update(self, name=name, metadata=metadata)

    def refresh_from_stripe(self) -> StripeCoupon:
        """Re-read the coupon from Stripe and store it; one deleted there is marked deleted.  Calls Stripe."""
        return COUPON_VERBS().refresh(self)

    def delete_at_stripe(self) -> StripeCoupon:
        """Delete the coupon at Stripe and keep the row with ``is_deleted=True`` (see
        :func:`flask_stripe_billing.coupons.verbs.delete_coupon`).  Calls Stripe."""
        return COUPON_VERBS().delete(self)

    #: The same as :meth:`delete_at_stripe`: a coupon is never deleted here without being deleted at Stripe.
    delete = delete_at_stripe


def _normalized(value: Any) -> Any:
    """Compare decimals, floats and datetimes by value (``Decimal("25.50") == 25.5``)."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return decimal.Decimal(str(value)).normalize()
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True)
class CouponVerbs:
    """The coupons domain's functions behind :class:`StripeCoupon`'s verbs."""

    create: Callable[[StripeCoupon], StripeCoupon]
    update: Callable[..., StripeCoupon]
    refresh: Callable[[StripeCoupon], StripeCoupon]
    delete: Callable[[StripeCoupon], StripeCoupon]


#: Plugged by the extension at ``init_app`` (see :mod:`flask_stripe_billing.models.ports`).
COUPON_VERBS: VerbsPort[CouponVerbs] = VerbsPort("StripeCoupon")

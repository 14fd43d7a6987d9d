"""``StripeSubscriptionPlan``: a price customers subscribe to."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, synonym

from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin
from .ports import VerbsPort


class PlanInterval(enum.StrEnum):
    """How often a plan bills."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class StripeSubscriptionPlan(StripeObjectMixin, Base):
    """A recurring Price: ``amount`` (minor units) in ``currency`` every ``interval_count`` ``interval``\\ s.

    The row mirrors one Stripe Price (``stripe_price_id``) of one Product (``stripe_product_id``, whose name is
    the plan's ``name``).  ``lookup_key`` is the price's lookup key at Stripe: a stable name for it that the
    application can use in code (``"pro_monthly"``) instead of an id, unique among prices.  ``active`` (the
    column ``is_active``) says whether the plan is offered: a price archived at Stripe, or whose product is,
    is not.  ``stripe_plan_id`` is another name for ``stripe_price_id``, from when plans were made with
    Stripe's Plans API (a plan id is a price id).

    ``metadata_`` is sent to Stripe (the attribute cannot be called ``metadata``, which SQLAlchemy's
    declarative API reserves; the column is named ``metadata``).  ``source`` is free JSON for the host, e.g.
    what the plan unlocks.
    """

    __tablename__ = f"{TABLE_PREFIX}plans"
    __table_args__ = (
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("interval_count >= 1", name="interval_count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The price's id at Stripe, known once Stripe has made the price (or given when adopting one).
    stripe_price_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    #: The price's lookup key at Stripe; chosen (and committed) before the price is created.
    lookup_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    stripe_product_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    interval: Mapped[str] = mapped_column(sa.String(10), default=PlanInterval.MONTH)
    interval_count: Mapped[int] = mapped_column(default=1)
    trial_period_days: Mapped[int | None] = mapped_column(default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_created_at_stripe: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), default=None)

    #: The same column as :attr:`stripe_price_id` (the name of the Plans API days).
    stripe_plan_id: Mapped[str | None] = synonym("stripe_price_id")
    #: The same column as :attr:`is_active`, named as Stripe names it.
    active: Mapped[bool] = synonym("is_active")

    def create_at_stripe(self) -> dict[str, Any]:
        """Create this plan's product and price at Stripe; return Stripe's price (see
        :func:`flask_stripe_billing.plans.create_plan`).

        Calls Stripe.  A second call is refused with :class:`~flask_stripe_billing.errors.PlanError`.
        """
        return PLAN_VERBS().create(self)


@dataclass(frozen=True)
class PlanVerbs:
    """The plans domain's functions behind :class:`StripeSubscriptionPlan`'s verbs."""

    create: Callable[[StripeSubscriptionPlan], dict[str, Any]]


#: Plugged by the extension at ``init_app`` (see :mod:`flask_stripe_billing.models.ports`).
PLAN_VERBS: VerbsPort[PlanVerbs] = VerbsPort("StripeSubscriptionPlan")

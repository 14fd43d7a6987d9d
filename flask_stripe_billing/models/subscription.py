"""``StripeSubscription``: a subscriber's subscription to a plan."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin, SubscriberMixin, utcnow
from .coupon import StripeCoupon
from .customer import StripeCustomer
from .plan import StripeSubscriptionPlan


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription statuses, plus ``canceling`` (canceled at period end, not ended yet)."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELING = "canceling"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


#: Statuses in which a subscription still runs at Stripe.
LIVE_STATUSES = frozenset(
    {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELING}
)


class StripeSubscription(SubscriberMixin, StripeObjectMixin, Base):
    """A subscription of a subscriber's customer to a plan.

    Nothing is sent to Stripe until it is created there.  ``end_date`` is a local expiry: past it,
    ``flask stripe end-subscriptions`` cancels the subscription at Stripe.
    """

    __tablename__ = f"{TABLE_PREFIX}subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey(StripeCustomer.id), index=True, default=None)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey(StripeSubscriptionPlan.id), index=True)
    coupon_id: Mapped[int | None] = mapped_column(sa.ForeignKey(StripeCoupon.id), default=None)
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    status: Mapped[str | None] = mapped_column(sa.String(32), index=True, default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    end_date: Mapped[dt.datetime | None] = mapped_column(index=True, default=None)
    canceled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    at_period_end: Mapped[bool] = mapped_column(default=False)
    current_period_start: Mapped[dt.datetime | None] = mapped_column(default=None)
    current_period_end: Mapped[dt.datetime | None] = mapped_column(default=None)
    trial_start: Mapped[dt.datetime | None] = mapped_column(default=None)
    trial_end: Mapped[dt.datetime | None] = mapped_column(default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    is_created_at_stripe: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), default=None)

    customer: Mapped[StripeCustomer | None] = relationship()
    plan: Mapped[StripeSubscriptionPlan] = relationship()
    coupon: Mapped[StripeCoupon | None] = relationship()

    @property
    def is_live(self) -> bool:
        """Whether the subscription still runs at Stripe (trialing, active, past due or canceling)."""
        return self.status in LIVE_STATUSES

    def on_trial(self, now: dt.datetime | None = None) -> bool:
        """Whether the trial is still running.  Reads only the database."""
        now = now or utcnow()
        return self.status == SubscriptionStatus.TRIALING and (self.trial_end is None or self.trial_end > now)

"""``StripeSubscription``: a subscriber's subscription to a plan."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin, SubscriberMixin, utcnow
from .coupon import StripeCoupon
from .customer import StripeCustomer
from .plan import StripeSubscriptionPlan
from .ports import VerbsPort


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
    #: The parameters sent with ``idempotency_key`` to create it, stored before the request: a retry after a lost
    #: answer sends exactly these again, so Stripe replays its answer instead of refusing a changed request.
    stripe_request: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    #: Canceled with a refund of the unused time that is not finished yet (``cancel()`` again finishes it).
    refund_due: Mapped[bool] = mapped_column(default=False)
    #: While payment collection is paused at Stripe (the subscription's ``pause_collection``): its ``behavior``
    #: (``void``, ``keep_as_draft`` or ``mark_uncollectible``); ``None`` when collection is not paused.  A
    #: subscription whose collection is paused gives no access (see :meth:`is_collection_paused`).
    pause_collection_behavior: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    #: ``pause_collection.resumes_at``: when Stripe resumes collecting (``None``: paused until resumed there).
    pause_collection_resumes_at: Mapped[dt.datetime | None] = mapped_column(default=None)

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

    def on_grace_period(self, now: dt.datetime | None = None) -> bool:
        """Whether it was canceled at period end and that end has not come yet.  Reads only the database."""
        now = now or utcnow()
        return self.status == SubscriptionStatus.CANCELING and (
            self.current_period_end is None or self.current_period_end > now
        )

    def is_collection_paused(self, now: dt.datetime | None = None) -> bool:
        """Whether payment collection is paused at Stripe (``pause_collection``) and its ``resumes_at``, if any,
        has not come yet.  Reads only the database."""
        now = now or utcnow()
        return self.pause_collection_behavior is not None and (
            self.pause_collection_resumes_at is None or self.pause_collection_resumes_at > now
        )

    def is_valid(self, now: dt.datetime | None = None) -> bool:
        """Whether it gives access now: live, its collection not paused, its trial not over, its paid-for period
        not over when canceling.

        Reads only the database.
        """
        now = now or utcnow()
        if self.is_collection_paused(now):
            return False
        if self.status == SubscriptionStatus.TRIALING:
            return self.on_trial(now)
        if self.status == SubscriptionStatus.CANCELING:
            return self.on_grace_period(now)
        return self.is_live

    # -- verbs: each calls Stripe (see flask_stripe_billing.subscriptions.verbs) --------------------------------------

    def create_at_stripe(self) -> dict[str, Any]:
        """Create the subscription at Stripe; return Stripe's subscription, discounts included.

        Calls Stripe.  See :func:`flask_stripe_billing.subscriptions.verbs.create_subscription`.
        """
        return SUBSCRIPTION_VERBS().create(self)

    def refresh_from_stripe(self) -> StripeSubscription:
        """Re-read the subscription from Stripe and store it.  Calls Stripe."""
        return SUBSCRIPTION_VERBS().refresh(self)

    def cancel(self, at_period_end: bool | None = None) -> StripeSubscription:
        """Cancel at Stripe, now or at period end (``None``: follow ``STRIPE_PRORATION_POLICY``).  Calls Stripe.

        See :func:`flask_stripe_billing.subscriptions.verbs.cancel_subscription`.
        """
        return SUBSCRIPTION_VERBS().cancel(self, at_period_end)

    def change_plan(self, plan: StripeSubscriptionPlan | str) -> StripeSubscription:
        """Switch to *plan* (a plan, a Price id or a lookup key) at once, prorated or not per
        ``STRIPE_PRORATION_POLICY``.  Calls Stripe."""
        return SUBSCRIPTION_VERBS().change_plan(self, plan)

    @classmethod
    def get_subscriptions_for_cancel(cls) -> list[StripeSubscription]:
        """Subscriptions past their ``end_date`` and still running (active, trialing, past due).  Reads only
        the database."""
        return SUBSCRIPTION_VERBS().due_for_cancel()

    @classmethod
    def end_subscriptions(cls, at_period_end: bool = True) -> Any:
        """Cancel every subscription of :meth:`get_subscriptions_for_cancel` at Stripe.  Calls Stripe.

        Returns a :class:`~flask_stripe_billing.core.batch.BatchSummary` (``ended``, and the failures).
        """
        return SUBSCRIPTION_VERBS().end_due(at_period_end)


@dataclass(frozen=True)
class SubscriptionVerbs:
    """The subscriptions domain's functions behind :class:`StripeSubscription`'s verbs."""

    create: Callable[[StripeSubscription], dict[str, Any]]
    refresh: Callable[[StripeSubscription], StripeSubscription]
    cancel: Callable[[StripeSubscription, bool | None], StripeSubscription]
    change_plan: Callable[[StripeSubscription, StripeSubscriptionPlan | str], StripeSubscription]
    due_for_cancel: Callable[[], list[StripeSubscription]]
    end_due: Callable[[bool], Any]


#: Plugged by the extension at ``init_app`` (see :mod:`flask_stripe_billing.models.ports`).
SUBSCRIPTION_VERBS: VerbsPort[SubscriptionVerbs] = VerbsPort("StripeSubscription")

"""Ending subscriptions on schedule: those past their local ``end_date`` (a fixed-term contract, a gift).

``end_date`` is ours, not Stripe's: nothing happens at Stripe when it passes until :func:`end_subscriptions`
(``flask stripe end-subscriptions``, from cron) cancels each such subscription with
:func:`~flask_stripe_billing.subscriptions.verbs.cancel_subscription`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from ..core.batch import BatchSummary
from ..core.state import get_state
from ..models.base import utcnow
from ..models.subscription import StripeSubscription, SubscriptionStatus
from .verbs import cancel_subscription

#: Statuses :func:`get_subscriptions_for_cancel` looks at: still running, and not already set to end.
CANCELLABLE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE)


def get_subscriptions_for_cancel(now: dt.datetime | None = None) -> list[StripeSubscription]:
    """Subscriptions past their local ``end_date`` that still run at Stripe (active, trialing or past due).

    Reads only the database.
    """
    query = (
        sa.select(StripeSubscription)
        .where(
            StripeSubscription.end_date.is_not(None),
            StripeSubscription.end_date <= (now or utcnow()),
            StripeSubscription.status.in_([str(status) for status in CANCELLABLE_STATUSES]),
            StripeSubscription.is_created_at_stripe.is_(True),
        )
        .order_by(StripeSubscription.end_date, StripeSubscription.id)
    )
    return list(get_state().db.session.scalars(query))


def end_subscriptions(
    at_period_end: bool = True,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Cancel every subscription of :func:`get_subscriptions_for_cancel` at Stripe.  Calls Stripe.

    One failure does not stop the others: each is kept in the summary's ``failures``; the one outcome counted
    is ``ended``.  *on_progress* is called with ``1``
    after each subscription.
    """
    session = get_state().db.session
    summary = BatchSummary("ended")
    for subscription_id in [row.id for row in get_subscriptions_for_cancel()]:
        subscription = session.get(StripeSubscription, subscription_id)
        assert subscription is not None
        label = f"subscription {subscription.id} ({subscription.stripe_subscription_id})"
        try:
            cancel_subscription(subscription, at_period_end=at_period_end)
            summary.ended += 1
        except Exception as exc:  # one failure must not stop the others; each is reported at the end
            session.rollback()
            summary.failures.add(label, exc)
        if on_progress is not None:
            on_progress(1)
    return summary

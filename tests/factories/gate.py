"""What the subscription gate's tests share: subscription rows as webhooks leave them, and plain views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeSubscription, StripeSubscriptionPlan, utcnow
from tests import hostapp

NOW = utcnow()
LATER = NOW + dt.timedelta(days=10)
EARLIER = NOW - dt.timedelta(days=1)


def subscribe_row(
    db: SQLAlchemy,
    subscriber: hostapp.User,
    status: str,
    *,
    period_end: dt.datetime | None = LATER,
    end_date: dt.datetime | None = None,
) -> StripeSubscription:
    """A subscription row as the webhook handlers leave it (the gate reads nothing else)."""
    plan = StripeSubscriptionPlan(name="Pro", amount=1500, currency="usd")
    subscription = StripeSubscription(
        plan=plan,
        subscriber_id=subscriber.id,
        status=status,
        current_period_end=period_end,
        end_date=end_date,
        stripe_subscription_id=f"sub_{status}_{subscriber.id}_{period_end}_{end_date}".replace(" ", "_"),
    )
    db.session.add(subscription)
    db.session.commit()
    return subscription


def page(text: str) -> Callable[[], str]:
    """A view answering *text*, named ``view_<text>``."""

    def view() -> str:
        return text

    view.__name__ = f"view_{text}"
    return view

"""Subscriptions against the offline Stripe after subscribing: cancel now or at period end, refresh from Stripe,
end on schedule (``flask stripe end-subscriptions``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
    SubscriptionStatus,
    utcnow,
)
from flask_stripe_billing.subscriptions.verbs import active_subscription, is_subscribed, subscribe
from tests import hostapp
from tests.stripe_openapi.http_client import ValidatingHTTPClient


def test_cancel_at_period_end_then_now(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    subscription_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    subscription_signals.clear()

    subscription.cancel()  # STRIPE_PRORATION_POLICY = False, not on trial: at period end
    assert subscription.status == SubscriptionStatus.CANCELING
    assert subscription.at_period_end
    assert subscription.on_grace_period()
    assert is_subscribed(user)  # paid until the period ends
    at_stripe = get_state().gateway.request("get", f"/v1/subscriptions/{subscription.stripe_subscription_id}")
    assert at_stripe["cancel_at_period_end"] is True
    assert at_stripe["status"] == "active"
    assert [(name, kwargs["at_period_end"], kwargs["committed"]) for name, kwargs in subscription_signals] == [
        ("canceled", True, "canceling")
    ]

    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.ended_at is not None
    assert not subscription.at_period_end
    assert not is_subscribed(user)
    assert active_subscription(user) is None


def test_cancel_now_and_again(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.cancel() is subscription  # already canceled: nothing to do, no error


def test_canceled_at_stripe_already_is_not_an_error(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    get_state().gateway.request(
        "delete", f"/v1/subscriptions/{subscription.stripe_subscription_id}", object_type="test", action="cancel"
    )
    subscription.cancel(at_period_end=True)  # Stripe refuses an update of a canceled subscription, or accepts it
    assert subscription.status == SubscriptionStatus.CANCELED  # what cancel() itself recorded
    subscription.refresh_from_stripe()
    assert subscription.status == SubscriptionStatus.CANCELED


def test_a_subscription_gone_at_stripe_is_taken_as_canceled(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    subscription.stripe_subscription_id = "sub_unknown_at_stripe"
    db.session.commit()
    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED


def test_cancelling_a_subscription_never_created_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    stripe_http.clear()
    for verb in (subscription.cancel, subscription.refresh_from_stripe):
        with pytest.raises(errors.SubscriptionError, match="never created"):
            verb()
    assert not stripe_http.requests
    assert subscription.status is None


def test_refresh_reads_changes_made_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    subscription_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    get_state().gateway.request(
        "post",
        f"/v1/subscriptions/{subscription.stripe_subscription_id}",
        {"cancel_at_period_end": True},
        object_type="test",
        action="update",
    )
    subscription_signals.clear()
    subscription.refresh_from_stripe()
    assert subscription.status == SubscriptionStatus.CANCELING
    assert [name for name, _ in subscription_signals] == ["canceled"]
    subscription_signals.clear()
    subscription.refresh_from_stripe()
    assert subscription_signals == []  # nothing changed, nothing announced


def _expired(db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan) -> StripeSubscription:
    subscription = subscribe(user, plan)
    subscription.end_date = utcnow() - dt.timedelta(days=1)
    db.session.commit()
    return subscription


def test_get_subscriptions_for_cancel(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    expired = _expired(db, user, plan)
    later = subscribe(user, plan)
    later.end_date = utcnow() + dt.timedelta(days=1)
    db.session.commit()
    subscribe(user, plan)  # no end date
    ended = _expired(db, user, plan)
    ended.cancel(at_period_end=False)
    assert StripeSubscription.get_subscriptions_for_cancel() == [expired]


@pytest.mark.parametrize(("args", "status"), [([], "canceling"), (["--now"], "canceled")])
def test_end_subscriptions_command(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    args: list[str],
    status: str,
) -> None:
    first, second = _expired(db, user, plan), _expired(db, user, plan)
    result = app.test_cli_runner().invoke(args=["stripe", "end-subscriptions", *args])
    assert result.exit_code == 0, result.output
    assert "Ended 2 of 2 subscription(s)" in result.output
    for subscription in (first, second):
        db.session.refresh(subscription)
        assert subscription.status == status
    assert StripeSubscription.get_subscriptions_for_cancel() == []
    assert StripeSubscription.end_subscriptions().total == 0

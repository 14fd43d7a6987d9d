"""Subscribing against the offline Stripe, with a user and with an organization as the subscriber.

Cancelling, refreshing and ending on schedule: ``test_subscriptions_cancel.py``; subscription events:
``test_subscriptions_webhooks.py``; what the offline Stripe cannot do: ``test_subscriptions_stub.py``."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import (
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
    SubscriptionStatus,
)
from flask_stripe_billing.subscriptions.verbs import active_subscription, is_subscribed, subscribe
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.apps import reset_database
from tests.factories.cards import SCA_CARD, make_payment_method
from tests.factories.subscriptions import created_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient


def test_metadata_given_to_subscribe_is_merged_keeping_subscriber_id(
    app: Flask, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan, metadata={"team": "blue", "subscriber_id": "999"})

    at_stripe = get_state().gateway.request("get", f"/v1/subscriptions/{subscription.stripe_subscription_id}")
    assert at_stripe["metadata"]["subscriber_id"] == str(user.id)
    assert at_stripe["metadata"]["team"] == "blue"


def test_subscribe_creates_it_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    subscription_signals: list[tuple[str, dict[str, Any]]],
    stripe_http: ValidatingHTTPClient,
) -> None:
    subscription = subscribe(user, plan)

    assert subscription.is_created_at_stripe
    assert subscription.stripe_subscription_id
    assert subscription.stripe_subscription_id.startswith("sub_")
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.customer is customer
    assert subscription.plan is plan
    assert subscription.subscriber_id == user.id
    # localstripe answers in the older shape: the period at the top level.
    assert subscription.current_period_start is not None
    assert subscription.current_period_end is not None
    assert subscription.current_period_end > subscription.current_period_start
    assert subscription.stripe_synced_at is not None
    request = stripe_http.last("POST", "/v1/subscriptions")
    assert request.idempotency_key == subscription.idempotency_key
    assert request.params["items"] == [{"price": plan.stripe_price_id}]
    assert request.params["customer"] == customer.stripe_customer_id
    assert [(name, kwargs["committed"]) for name, kwargs in subscription_signals] == [("created", "active")]
    assert active_subscription(user) is subscription
    assert is_subscribed(user)
    assert is_subscribed(user, plan)
    assert not is_subscribed(user, created_plan(db, name="Other"))


def test_nothing_is_sent_before_create_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    stripe_http: ValidatingHTTPClient,
) -> None:
    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    stripe_http.clear()
    assert not stripe_http.requests
    assert not is_subscribed(user)

    data = subscription.create_at_stripe()
    assert data["id"] == subscription.stripe_subscription_id
    assert data["status"] == "active"
    assert "discount" in data or "discounts" in data  # Stripe's own object, discounts included
    assert subscription.customer is customer  # the subscriber's latest active customer
    with pytest.raises(errors.SubscriptionError, match="already created"):
        subscription.create_at_stripe()


def test_without_a_customer_nothing_is_written(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    stripe_http.clear()
    with pytest.raises(errors.NoCustomerError):
        subscribe(user, plan)
    assert not stripe_http.requests
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0

    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    with pytest.raises(errors.NoCustomerError):
        subscription.create_at_stripe()
    assert not stripe_http.requests
    assert not subscription.is_created_at_stripe


def test_a_plan_not_created_at_stripe_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    plan = StripeSubscriptionPlan(name="Draft", amount=100, currency="usd")
    db.session.add(plan)
    db.session.commit()
    stripe_http.clear()
    with pytest.raises(errors.SubscriptionError, match="create_at_stripe"):
        subscribe(user, plan)
    assert not stripe_http.requests


def test_an_unknown_coupon_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    with pytest.raises(errors.SubscriptionError, match="No live coupon"):
        subscribe(user, plan, coupon="NOPE")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0


def test_a_coupon_on_a_subscription_discounts_its_first_invoice(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    stripe_http: ValidatingHTTPClient,
) -> None:
    """Sent as ``discounts`` (the current API), once; the subscription keeps the coupon and Stripe bills less."""
    from flask_stripe_billing.coupons.verbs import create_coupon

    create_coupon(coupon_id="LOCAL10", percent_off=10, duration="once")
    stripe_http.clear()
    subscription = subscribe(user, plan, coupon="LOCAL10")
    sent = [request.params for request in stripe_http.requests if request.templated_path == "/v1/subscriptions"]
    assert [("discounts" in params, params.get("coupon")) for params in sent] == [(True, None)]
    assert subscription.coupon is not None
    assert subscription.coupon.coupon_id == "LOCAL10"
    assert subscription.status == "active"
    invoices = get_state().gateway.request("get", "/v1/invoices", {"subscription": subscription.stripe_subscription_id})
    assert [(invoice["subtotal"], invoice["total"]) for invoice in invoices["data"]] == [
        (plan.amount, plan.amount - plan.amount // 10)
    ]


def test_subscribing_again_while_the_first_payment_waits_makes_no_second_subscription(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    from flask_stripe_billing.subscriptions import payment as subscription_payment

    create_customer(user, make_payment_method(SCA_CARD))
    waiting = subscribe(user, plan)
    assert waiting.status == "incomplete"
    payment = subscription_payment.first_payment(waiting)
    assert payment is not None
    assert payment.amount_due == plan.amount
    assert payment.client_secret.startswith("pi_")
    stripe_http.clear()
    assert subscribe(user, plan) is waiting
    assert not [r for r in stripe_http.requests if r.method == "post"]
    other = StripeSubscriptionPlan(name="Other", amount=100, currency="usd")
    db.session.add(other)
    db.session.commit()
    other.create_at_stripe()
    with pytest.raises(errors.SubscriptionError, match="waiting for its first payment"):
        subscribe(user, other)
    waiting.cancel()
    assert waiting.status == "canceled"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 1


def test_a_refused_subscription_leaves_no_row(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    # The plan disappeared at Stripe: Stripe refuses, and the row made for the attempt goes again.
    get_state().gateway.request("delete", f"/v1/plans/{plan.stripe_plan_id}", object_type="plan", action="delete")
    with pytest.raises(errors.InvalidRequestError):
        subscribe(user, plan)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0


def test_organization_subscriber(database_url: str, stripe_test_config: dict[str, Any], stripe_http: Any) -> None:
    app = hostapp.create_app(
        {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url},
        db=hostapp.org_db,
        subscriber_model=hostapp.Organization,
        http_client=stripe_http,
    )
    with app.app_context():
        reset_database(hostapp.org_db)
        try:
            org = hostapp.Organization(name="Acme", billing_email="billing@acme.test")
            hostapp.org_db.session.add(org)
            hostapp.org_db.session.commit()
            plan = created_plan(hostapp.org_db)
            customer = create_customer(org, create_card_token())
            subscription = subscribe(org, plan)
            assert subscription.subscriber is org
            assert subscription.customer is customer
            assert is_subscribed(org)
            subscription.cancel(at_period_end=False)
            assert not is_subscribed(org)
        finally:
            hostapp.org_db.session.remove()
            hostapp.org_db.drop_all()
            hostapp.org_db.engine.dispose()

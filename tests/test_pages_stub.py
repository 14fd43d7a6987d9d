"""Pages for what the offline Stripe cannot do, through the spec-validating stub: subscribing with a coupon,
and switching plans (localstripe has no coupons on subscriptions and answers 500 to a change of item)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeCoupon, StripeCustomer
from tests import hostapp
from tests.factories.pages import post, subscriptions_of
from tests.factories.subscriptions import answer_plan_changes, answer_subscriptions, stripe_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub


@pytest.fixture
def app(stub_app: Flask) -> Flask:
    """Every test here talks to the stub."""
    return stub_app


@pytest.fixture
def customer(db: SQLAlchemy, user: hostapp.User) -> StripeCustomer:
    """A customer at the stub with a saved card (the pages ask for a card before subscribing)."""
    data = get_state().gateway.request("post", "/v1/customers", {}, object_type="test", action="create")
    card = {"id": "pm_saved", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    row = StripeCustomer(
        stripe_customer_id=data["id"],
        is_created_at_stripe=True,
        subscriber_id=user.id,
        sources=[card],
        default_source="pm_saved",
    )
    db.session.add(row)
    db.session.commit()
    return row


def alerts(response: Any) -> list[str]:
    return re.findall(r'role="alert">([^<]*)<', response.text)


def test_subscribing_with_a_coupon(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: ValidatingHTTPClient,
    logged_in_client: FlaskClient,
) -> None:
    plan = stripe_plan(db, "plan_pro", name="Pro")
    coupon = StripeCoupon(coupon_id="SAVE20", percent_off=20, duration="forever", is_created_at_stripe=True)
    db.session.add(coupon)
    db.session.commit()
    discount = {"id": "di_1", "object": "discount", "coupon": {"id": "SAVE20", "object": "coupon", "percent_off": 20}}
    answer_subscriptions(stub, discounts=[discount])

    checked = logged_in_client.get("/billing/api/coupons/SAVE20")
    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id), "coupon": " SAVE20 "})

    assert checked.status_code == 200
    assert checked.json is not None
    assert checked.json["percent_off"] == "20.00"
    assert response.status_code == 302, alerts(response)
    assert stripe_http.last("POST", "/v1/subscriptions").params["discounts"] == [{"coupon": "SAVE20"}]
    [subscription] = subscriptions_of(db, user)
    assert subscription.coupon_id == coupon.id


def test_choosing_another_plan_changes_the_subscription(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: ValidatingHTTPClient,
    logged_in_client: FlaskClient,
) -> None:
    pro = stripe_plan(db, "plan_pro", name="Pro")
    team = stripe_plan(db, "plan_team", name="Team", amount=4900)
    answer_subscriptions(stub)
    answer_plan_changes(stub)

    first = post(logged_in_client, "/billing/subscribe", {"plan_id": str(pro.id)})
    page = logged_in_client.get("/billing/plans").text
    again = post(logged_in_client, "/billing/subscribe", {"plan_id": str(pro.id)}, follow_redirects=True)
    switched = post(logged_in_client, "/billing/subscribe", {"plan_id": str(team.id)}, follow_redirects=True)

    assert first.status_code == 302
    assert "Switch to Team" in page
    assert "You are already subscribed to Pro." in again.text
    assert "Your plan is now Team." in switched.text, alerts(switched)
    change = stripe_http.last("POST", "/v1/subscriptions/{subscription_exposed_id}")
    assert change.params["items"][0]["price"] == "plan_team"
    assert change.params["proration_behavior"] == "none"  # STRIPE_PRORATION_POLICY is False
    [row] = subscriptions_of(db, user)
    assert row.plan_id == team.id

"""The billing pages through the test client, against the offline Stripe: plans, subscribing, cancelling, paying a
charge and confirming a payment."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
import urllib.request

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCustomer,
    StripeSubscriptionPlan,
)
from flask_stripe_billing.offline import OfflineStripe
from tests import hostapp
from tests.factories.cards import DECLINED_ON_CHARGE, SCA_CARD
from tests.factories.charges import authenticate, customer_with, new_charge
from tests.factories.pages import post, subscribed, subscriptions_of
from tests.factories.subscriptions import created_plan

# -- plans, subscribing, cancelling -----------------------------------------------------------------------------


def test_plans_page_lists_plans_created_at_stripe(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient) -> None:
    created_plan(db, name="Pro", amount=1500, description="Everything")
    created_plan(db, name="Team", amount=4900, interval_count=3)
    db.session.add(StripeSubscriptionPlan(name="Draft", amount=100, currency="usd"))
    db.session.commit()

    html = logged_in_client.get("/billing/plans").text

    assert "Subscribe to Pro" in html
    assert "$15.00" in html
    assert "/ month" in html
    assert "$49.00" in html
    assert "/ 3 months" in html
    assert "Draft" not in html
    assert 'data-check-url="/billing/api/coupons/__CODE__"' in html


def test_subscribing_to_a_plan(app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient) -> None:
    customer_with(user)
    plan = created_plan(db, amount=1500)

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)})

    assert response.status_code == 302
    assert response.location == "/billing/account"
    [subscription] = subscriptions_of(db, user)
    assert subscription.status == "active"
    page = logged_in_client.get("/billing/account").text
    assert "Thank you: you are subscribed to Pro." in page
    assert "Renews" in page
    assert "Your plan" in logged_in_client.get("/billing/plans").text


# Subscribing with a coupon and switching plans: tests/test_pages_stub.py (the offline Stripe cannot).


def test_an_unknown_coupon_is_refused_before_subscribing(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user)
    plan = created_plan(db, amount=1500)

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id), "coupon": "NOPE"})

    assert response.status_code == 400
    assert "The coupon code &#39;NOPE&#39; is not valid." in response.text
    assert 'value="NOPE"' in response.text
    assert subscriptions_of(db, user) == []


@pytest.mark.parametrize(
    "plan_id", ["", "abc", "999999", "²", "-1", "0", "99999999999999999999999", "1" * 5000, "1\x00"]
)
def test_an_unknown_plan_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, plan_id: str
) -> None:
    response = post(logged_in_client, "/billing/subscribe", {"plan_id": plan_id})
    assert response.status_code == 400
    assert "Choose one of the plans below." in response.text


def test_subscribing_without_a_card_asks_for_one_first(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    plan = created_plan(db, amount=1500)

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)})

    assert response.status_code == 302
    assert response.location == "/billing/card?next=/billing/plans"
    assert subscriptions_of(db, user) == []
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None
    # Where the gate sent the subscriber from is kept through the card page and the plans page.
    gated = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id), "next": "/reports"})
    assert gated.location == "/billing/card?next=/billing/plans?next%3D/reports"


def test_subscribing_with_a_card_that_is_declined_shows_the_error(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    plan = created_plan(db, amount=1500)

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)}, follow_redirects=True)

    assert "Your subscription to Pro could not be paid for yet; please check your card." in response.text
    live = [s for s in subscriptions_of(db, user) if s.status == "active"]
    assert live == []


def test_cancelling_states_when_access_ends_then_cancels_at_period_end(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    assert subscription.current_period_end is not None
    url = f"/billing/subscriptions/{subscription.id}/cancel"
    ends = subscription.current_period_end

    confirmation = logged_in_client.get(url).text
    response = post(logged_in_client, url)

    assert "You keep access until" in confirmation
    assert f'data-sb-access-ends="{ends.date().isoformat()}"' in confirmation
    assert response.status_code == 302
    db.session.refresh(subscription)
    assert subscription.status == "canceling"
    account = logged_in_client.get("/billing/account").text
    assert "you keep access until" in account
    assert "Access ends" in account
    assert logged_in_client.get(url).status_code == 302  # nothing left to cancel


@pytest.mark.parametrize(("status", "proration"), [("trialing", False), ("active", True)])
def test_the_confirmation_says_when_cancelling_ends_access_at_once(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, status: str, proration: bool
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    # The offline Stripe has no trials: the row is put in the state a trial's webhook would leave it in.
    subscription.status = status
    db.session.commit()
    state = get_state(app)
    state.config = dataclasses.replace(state.config, proration_policy=proration)

    page = logged_in_client.get(f"/billing/subscriptions/{subscription.id}/cancel").text

    assert 'data-sb-access-ends="now"' in page
    assert "you lose access at once" in page


# -- paying a charge, confirming a payment ----------------------------------------------------------------------


def test_paying_a_pending_charge(app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient) -> None:
    customer_with(user)
    charge = new_charge(db, user, amount=2599)
    url = f"/billing/charges/{charge.id}/pay"

    page = logged_in_client.get(url).text
    response = post(logged_in_client, url)

    assert "$25.99" in page
    assert "Pay $25.99" in page
    assert "•••• 4242" in page
    assert response.status_code == 302
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.SUCCEEDED
    assert "Paid" in logged_in_client.get(url).text
    assert post(logged_in_client, url).status_code == 302  # paying twice changes nothing
    db.session.refresh(charge)
    assert charge.attempts == 1


def test_a_declined_payment_is_shown_next_to_the_card(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    charge = new_charge(db, user)

    response = post(logged_in_client, f"/billing/charges/{charge.id}/pay")

    assert response.status_code == 400
    assert re.search(r'id="sb-card-errors"[^>]*>[^<]*declined', response.text, re.IGNORECASE)
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.FAILED


def test_paying_without_a_card_asks_for_one(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    charge = new_charge(db, user, description="Order 42")
    url = f"/billing/charges/{charge.id}/pay"
    page = logged_in_client.get(url).text

    assert "Order 42" in page
    assert "Add a card" in page
    response = post(logged_in_client, url)

    assert response.location == f"/billing/card?next={urllib.parse.quote(url)}"


@pytest.mark.parametrize("success", [True, False])
def test_a_payment_that_needs_authentication_goes_through_the_confirm_page(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    logged_in_client: FlaskClient,
    offline_stripe: OfflineStripe,
    success: bool,
) -> None:
    customer_with(user, SCA_CARD)
    charge = new_charge(db, user, amount=4200)
    pay_url, confirm_url = f"/billing/charges/{charge.id}/pay", f"/billing/charges/{charge.id}/confirm"

    response = post(logged_in_client, pay_url)
    assert response.location == confirm_url
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.REQUIRES_ACTION
    page = logged_in_client.get(confirm_url).text
    assert f'data-client-secret="{charge.payment_intent_client_secret}"' in page
    assert "$42.00" in page
    assert post(logged_in_client, confirm_url).location == confirm_url  # not authenticated yet

    authenticate(offline_stripe, charge, success=success)
    response = post(logged_in_client, confirm_url)

    assert response.location == pay_url
    db.session.refresh(charge)
    assert charge.status == (ChargeStatus.SUCCEEDED if success else ChargeStatus.FAILED)
    assert logged_in_client.get(confirm_url).location == pay_url  # nothing left to confirm


def test_confirming_a_charge_never_sent_to_stripe_goes_back_to_its_page(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    charge = new_charge(db, user, amount=4200)
    response = post(logged_in_client, f"/billing/charges/{charge.id}/confirm")
    assert response.status_code == 302
    assert response.location == f"/billing/charges/{charge.id}/pay"

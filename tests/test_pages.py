"""The billing pages through the test client, against the offline Stripe: login, ownership, CSRF, the card page,
the account page.

Subscribing, cancelling and paying: ``test_pages_billing.py``; what hosts change: ``test_pages_hosts.py``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import charges, errors
from flask_stripe_billing.charges import refunds
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
)
from flask_stripe_billing.offline import OFFLINE_API_KEY
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.apps import make_user
from tests.factories.cards import DECLINED_CARD, SCA_CARD, make_payment_method
from tests.factories.charges import customer_with, new_charge
from tests.factories.pages import csrf_token, post, subscribed
from tests.factories.subscriptions import created_plan

# -- login, ownership, CSRF, secrets --------------------------------------------------------------------------

PAGES = [
    ("GET", "/billing/"),
    ("GET", "/billing/account"),
    ("GET", "/billing/card"),
    ("POST", "/billing/card"),
    ("GET", "/billing/plans"),
    ("POST", "/billing/subscribe"),
    ("GET", "/billing/subscriptions/1/cancel"),
    ("POST", "/billing/subscriptions/1/cancel"),
    ("GET", "/billing/subscriptions/1/confirm"),
    ("POST", "/billing/subscriptions/1/confirm"),
    ("GET", "/billing/charges/1/pay"),
    ("POST", "/billing/charges/1/pay"),
    ("GET", "/billing/charges/1/confirm"),
    ("POST", "/billing/charges/1/confirm"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_every_page_needs_a_login(app: Flask, client: FlaskClient, method: str, path: str) -> None:
    assert client.open(path, method=method).status_code == 401


def test_anonymous_visitors_are_sent_to_the_hosts_login_view(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.add_url_rule("/login", "login", lambda: "login")
    monkeypatch.setattr(hostapp.login, "login_view", "login")

    response = client.get("/billing/account")

    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/billing/charges/{}/pay",
        "/billing/charges/{}/confirm",
        "/billing/subscriptions/{}/cancel",
        "/billing/subscriptions/{}/confirm",
    ],
)
@pytest.mark.parametrize("row_id", ["0", "2147483648", "99999999999999999999999"])
def test_ids_no_row_can_have_are_404(app: Flask, logged_in_client: FlaskClient, path: str, row_id: str) -> None:
    token = csrf_token(logged_in_client)
    assert logged_in_client.get(path.format(row_id)).status_code == 404
    assert logged_in_client.post(path.format(row_id), data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/charges/{charge}/pay",
        "/charges/{charge}/confirm",
        "/subscriptions/{subscription}/cancel",
        "/subscriptions/{subscription}/confirm",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_someone_elses_rows_are_404(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, path: str, method: str
) -> None:
    eve = make_user(db, "eve@example.com")
    charge = new_charge(db, eve)
    plan = StripeSubscriptionPlan(name="Pro", amount=1500, currency="usd")
    subscription = StripeSubscription(plan=plan, subscriber_id=eve.id, status="active", is_created_at_stripe=True)
    db.session.add(subscription)
    db.session.commit()
    url = "/billing" + path.format(charge=charge.id, subscription=subscription.id)
    token = csrf_token(logged_in_client)

    assert logged_in_client.open(url, method=method, data={"csrf_token": token}).status_code == 404
    missing = url.replace(f"/{charge.id}/", "/999999/").replace(f"/{subscription.id}/", "/999999/")
    assert logged_in_client.open(missing, method=method, data={"csrf_token": token}).status_code == 404
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.PENDING


@pytest.mark.parametrize(
    "path",
    ["/billing/card", "/billing/subscribe", "/billing/charges/{charge}/pay", "/billing/charges/{charge}/confirm"],
)
@pytest.mark.parametrize("token", [None, "forged", ""])
def test_posts_without_this_sessions_csrf_token_are_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, path: str, token: str | None
) -> None:
    customer_with(user)
    charge = new_charge(db, user)
    csrf_token(logged_in_client)  # the session has a token; the request does not carry it
    data = {"payment_method": make_payment_method()} | ({"csrf_token": token} if token is not None else {})

    response = logged_in_client.post(path.format(charge=charge.id), data=data)

    assert response.status_code == 400
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.PENDING
    assert len(db.session.scalars(sa.select(StripeCustomer)).all()) == 1


@pytest.mark.parametrize("token", [None, "forged"])
def test_cancelling_without_this_sessions_csrf_token_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, token: str | None
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    data = {"csrf_token": token} if token is not None else {}

    response = logged_in_client.post(f"/billing/subscriptions/{subscription.id}/cancel", data=data)

    assert response.status_code == 400
    db.session.refresh(subscription)
    assert subscription.status == "active"


def test_pages_render_the_publishable_key_and_never_the_secret_key(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, SCA_CARD)
    charge = new_charge(db, user)
    with pytest.raises(errors.PaymentActionRequired):
        charges.charge(charge)
    created_plan(db, amount=1500)

    for path in ("/billing/account", "/billing/card", "/billing/plans", f"/billing/charges/{charge.id}/confirm"):
        html = logged_in_client.get(path).text
        assert OFFLINE_API_KEY not in html
        assert "sk_" not in html
    html = logged_in_client.get("/billing/card").text
    assert 'data-stripe-key="pk_test_offline"' in html
    assert "<script>" not in html  # no inline script: everything is in billing.js


# -- the card page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["payment_method", "token"])
def test_adding_the_first_card_creates_the_customer(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, flow: str
) -> None:
    card = make_payment_method() if flow == "payment_method" else create_card_token()

    response = post(logged_in_client, "/billing/card", {flow if flow == "token" else "payment_method": card})

    assert response.status_code == 302
    assert response.location == "/billing/account"
    customer = StripeCustomer.get_latest_active_customer_for_user(user)
    assert customer is not None
    assert customer.default_source_data is not None
    assert customer.default_source_data["last4"] == "4242"
    page = logged_in_client.get("/billing/account").text
    assert "Your card ending in 4242 is saved." in page
    assert "•••• 4242" in page
    assert "Default" in page


def test_replacing_the_card_keeps_the_customer_and_makes_the_new_card_default(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    first = customer_with(user)
    new_card = make_payment_method("5555555555554444")

    response = post(
        logged_in_client, "/billing/card?next=/billing/plans", {"payment_method": new_card, "next": "/billing/plans"}
    )

    assert response.status_code == 302
    assert response.location == "/billing/plans"
    db.session.expire_all()
    customer = StripeCustomer.get_latest_active_customer_for_user(user)
    assert customer is not None
    assert customer.id == first.id
    assert customer.default_source == new_card
    assert "Replace your card" in logged_in_client.get("/billing/card").text


def test_a_declined_card_is_shown_next_to_the_card_field(
    app: Flask, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    response = post(logged_in_client, "/billing/card", {"token": create_card_token(DECLINED_CARD)})

    assert response.status_code == 400
    error = re.search(r'<p id="sb-card-errors" class="sb-field-error" role="alert">([^<]*)</p>', response.text)
    assert error is not None
    assert "declined" in error.group(1).lower()
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None


@pytest.mark.parametrize("data", [{}, {"payment_method": "card_123"}, {"token": "pm_123"}, {"token": "x" * 300}])
def test_bad_card_input_is_refused_before_any_stripe_request(
    app: Flask, logged_in_client: FlaskClient, stripe_http: Any, data: dict[str, str]
) -> None:
    token = csrf_token(logged_in_client)
    stripe_http.clear()

    response = logged_in_client.post("/billing/card", data={"csrf_token": token, **data})

    assert response.status_code == 400
    assert "Enter your card details" in response.text
    assert list(stripe_http.requests) == []


@pytest.mark.parametrize(
    "target", ["//evil.test/x", "https://evil.test/", "javascript:alert(1)", "/\\evil.test", "/x\nLocation: y"]
)
def test_next_never_leaves_the_site(app: Flask, logged_in_client: FlaskClient, target: str) -> None:
    response = post(logged_in_client, "/billing/card", {"payment_method": make_payment_method(), "next": target})
    assert response.location == "/billing/account"


def test_the_token_flow_is_available(app: Flask, logged_in_client: FlaskClient) -> None:
    assert 'data-flow="token"' in logged_in_client.get("/billing/card?flow=token").text
    assert 'data-flow="setup_intent"' in logged_in_client.get("/billing/card?flow=other").text


# -- the account page -------------------------------------------------------------------------------------------


def test_the_account_page_shows_cards_subscriptions_and_charges_with_refunds(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscribed(db, user, logged_in_client)
    paid = new_charge(db, user, amount=3000)
    charges.charge(paid)
    refunds.refund(paid, 1000)
    new_charge(db, user, amount=700, description="Extra seat")
    eve = make_user(db, "eve@example.com")
    new_charge(db, eve, amount=999, description="Not yours")

    html = logged_in_client.get("/billing/account").text

    assert "•••• 4242" in html
    assert "Pro" in html
    assert "Active" in html
    assert "$30.00" in html
    assert "Refund of $10.00" in html
    assert "$10.00 refunded" in html
    assert "Extra seat" in html
    assert "Due" in html
    assert "Not yours" not in html


def test_an_empty_account(app: Flask, logged_in_client: FlaskClient) -> None:
    html = logged_in_client.get("/billing/account").text
    assert "No card saved yet." in html
    assert "No subscription." in html
    assert "No payments yet." in html

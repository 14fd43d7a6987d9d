"""The Customer Portal: the session asked for, the ``POST /portal`` route and the account page's button, and the
changes a customer makes there coming back by webhook (the spec stub holds the objects)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling, errors
from flask_stripe_billing.billable import BillableMixin
from flask_stripe_billing.checkout import billing_portal_url
from flask_stripe_billing.models import StripeCustomer, StripeSubscription, StripeSubscriptionPlan, SubscriptionStatus
from tests import hostapp
from tests.factories.apps import log_in, make_user
from tests.factories.checkout import checkout_app, stub_subscription
from tests.factories.pages import csrf_token, flashed, post
from tests.factories.subscriptions import DAY, stripe_plan
from tests.factories.webhooks import send_event
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error

ACCOUNT = "http://billing.test/billing/account"


@pytest.fixture
def app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http) as application:
        yield application


def test_a_portal_session_for_the_subscribers_customer(
    app: Flask, user: hostapp.User, stub_customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    url = StripeBilling().billing_portal_url(user)
    assert url.startswith("https://")
    sent = stripe_http.last("POST", "/v1/billing_portal/sessions")
    assert sent.params == {"customer": stub_customer.stripe_customer_id, "return_url": ACCOUNT}
    assert sent.idempotency_key

    BillableMixin.billing_portal_url(user, "https://shop.test/back", locale="fr")  # type: ignore[arg-type]
    sent = stripe_http.last("POST", "/v1/billing_portal/sessions")
    assert sent.params["return_url"] == "https://shop.test/back"
    assert sent.params["locale"] == "fr"


def test_a_portal_session_is_refused_before_any_request(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    stripe_http.clear()
    with pytest.raises(errors.NoCustomerError):
        billing_portal_url(user)
    db.session.add(StripeCustomer(subscriber_id=user.id, stripe_customer_id="cus_x", is_created_at_stripe=True))
    db.session.commit()
    with pytest.raises(errors.CheckoutError, match="absolute"):
        billing_portal_url(user, return_url="/billing/account")
    assert list(stripe_http.requests) == []


def test_the_portal_route(
    app: Flask, client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    log_in(client, user)
    assert "Manage billing" not in client.get("/billing/account").text  # no customer yet
    response = post(client, "/billing/portal")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/billing/account")
    assert flashed(client)[-1][0] == "info"

    hostapp.db.session.add(StripeCustomer(subscriber_id=user.id, stripe_customer_id="cus_x", is_created_at_stripe=True))
    hostapp.db.session.commit()
    page = client.get("/billing/account").text
    assert "Manage billing" in page
    assert 'action="/billing/portal"' in page
    url = answer_portal_sessions(stub)
    response = post(client, "/billing/portal")
    assert response.status_code == 303
    assert response.headers["Location"] == url
    assert stripe_http.last("POST", "/v1/billing_portal/sessions").params["return_url"] == ACCOUNT

    assert client.post("/billing/portal").status_code == 400  # no CSRF token
    assert client.post("/billing/portal", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/billing/portal").status_code == 405

    stub.on("POST", "/v1/billing_portal/sessions", lambda params, stored: stripe_error(500, "down", kind="api_error"))
    response = client.post("/billing/portal", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert flashed(client)[-1][0] == "error"


def answer_portal_sessions(stub: StripeStub) -> str:
    """Answer portal sessions with one url, and return it."""
    url = "https://billing.stripe.test/p/session/test_1"

    def answer(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"id": "bps_1", "object": "billing_portal.session", "customer": params["customer"], "url": url}

    stub.on("POST", "/v1/billing_portal/sessions", answer)
    return url


def test_the_portal_can_be_switched_off(stub: StripeStub, database_url: str, stripe_http: Any) -> None:
    with checkout_app(stub, database_url, stripe_http, STRIPE_PORTAL=False) as application:
        user = make_user(hostapp.db)
        hostapp.db.session.add(
            StripeCustomer(subscriber_id=user.id, stripe_customer_id="cus_x", is_created_at_stripe=True)
        )
        hostapp.db.session.commit()
        client = log_in(application.test_client(), user)
        assert "Manage billing" not in client.get("/billing/account").text
        stripe_http.clear()
        assert post(client, "/billing/portal").status_code == 302
        assert [r for r in stripe_http.requests if r.method == "POST"] == []


# -- what the customer changes in the portal comes back by webhook -------------------------------------------------


@pytest.fixture
def subscribed(db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub) -> dict[str, Any]:
    """``user`` subscribed to ``plan_pro``: the stub's subscription, and our row of it."""
    plan = stripe_plan(db, "plan_pro")
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "plan_pro")
    row = StripeSubscription(
        subscriber_id=user.id,
        customer_id=stub_customer.id,
        plan_id=plan.id,
        stripe_subscription_id=obj["id"],
        is_created_at_stripe=True,
        status="active",
    )
    db.session.add(row)
    db.session.commit()
    return obj


def reloaded(db: SQLAlchemy) -> StripeSubscription:
    db.session.expire_all()
    return db.session.scalars(sa.select(StripeSubscription)).one()


def test_a_price_switch_and_a_new_quantity_are_mirrored(
    app: Flask, client: FlaskClient, db: SQLAlchemy, subscribed: dict[str, Any], stub: StripeStub
) -> None:
    stub.store.create("product", {"id": "prod_team"}).update({"name": "Team", "active": True})
    team = {
        "id": "price_team",
        "object": "price",
        "unit_amount": 5000,
        "currency": "usd",
        "nickname": "Team",
        "product": "prod_team",
        "recurring": {"interval": "year", "interval_count": 1},
    }
    subscribed["items"]["data"][0].update({"price": team, "plan": None, "quantity": 3})
    send_event(client, "customer.subscription.updated", subscribed, created=int(time.time()) + 5)
    row = reloaded(db)
    assert row.plan.stripe_plan_id == "price_team"  # imported from the price: it was new to us
    assert (row.plan.name, row.plan.amount, row.plan.interval) == ("Team", 5000, "year")
    assert row.stripe_response["items"]["data"][0]["quantity"] == 3
    assert len(db.session.scalars(sa.select(StripeSubscriptionPlan)).all()) == 2


def test_cancel_at_period_end_and_resume_are_mirrored(
    app: Flask, client: FlaskClient, db: SQLAlchemy, subscribed: dict[str, Any]
) -> None:
    now = int(time.time())
    send_event(client, "customer.subscription.updated", {**subscribed, "cancel_at_period_end": True}, created=now + 5)
    row = reloaded(db)
    assert row.status == SubscriptionStatus.CANCELING
    assert row.on_grace_period()
    send_event(client, "customer.subscription.updated", subscribed, created=now + 10)
    assert reloaded(db).status == SubscriptionStatus.ACTIVE


def test_a_new_default_card_is_mirrored(
    app: Flask, client: FlaskClient, db: SQLAlchemy, stub_customer: StripeCustomer, stub: StripeStub
) -> None:
    assert stub_customer.stripe_customer_id
    method = stub.store.create("payment_method", {})
    method.update({"customer": stub_customer.stripe_customer_id, "type": "card"})
    method["card"].update({"brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2031})
    customer = stub.store.get(stub_customer.stripe_customer_id)
    assert customer is not None
    customer.update({"invoice_settings": {"default_payment_method": method["id"]}, "default_source": None})
    send_event(client, "customer.updated", customer, created=int(time.time()) + 5)
    db.session.expire_all()
    row = db.session.get(StripeCustomer, stub_customer.id)
    assert row is not None
    assert row.default_source == method["id"]
    assert row.default_source_data is not None
    assert row.default_source_data["last4"] == "4444"


def test_a_subscription_started_in_the_portal_is_adopted(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, subscribed: dict[str, Any], stub: StripeStub
) -> None:
    second = stub_subscription(
        stub, subscribed["customer"], "plan_pro", status="trialing", trial_end=int(time.time()) + DAY
    )
    send_event(client, "customer.subscription.created", second)
    db.session.expire_all()
    stripe_ids = db.session.scalars(
        sa.select(StripeSubscription.stripe_subscription_id).order_by(StripeSubscription.id)
    )
    assert list(stripe_ids) == [subscribed["id"], second["id"]]

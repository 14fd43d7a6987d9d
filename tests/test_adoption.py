"""Adopting subscriptions made elsewhere (Checkout, the Portal, the Dashboard) for customers we know, through the
real webhook route (the spec stub answers what is re-read): one row per Stripe id, plans imported from prices new
to us, deliveries at once, and ``subscribe()`` attempts whose answer was lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import signals
from flask_stripe_billing.models import StripeCustomer, StripeSubscription, StripeSubscriptionPlan, StripeWebhook
from flask_stripe_billing.testing import SignalRecorder
from tests import hostapp
from tests.factories.checkout import checkout_app, stub_subscription
from tests.factories.subscriptions import stripe_plan
from tests.factories.webhooks import deliver, event, send_event
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub

TEAM_PRICE = {
    "id": "price_team",
    "object": "price",
    "unit_amount": 9000,
    "currency": "eur",
    "nickname": None,
    "product": {"id": "prod_team", "object": "product", "name": "Team"},
    "recurring": {"interval": "month", "interval_count": 3},
}


@pytest.fixture
def app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http) as application:
        yield application


def subscriptions(db: SQLAlchemy) -> list[StripeSubscription]:
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StripeSubscription).order_by(StripeSubscription.id)))


def test_a_subscription_of_a_known_customer_is_adopted(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    stub_customer: StripeCustomer,
    stub: StripeStub,
    subscription_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    stripe_plan(db, "plan_pro")
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "plan_pro")
    send_event(client, "customer.subscription.created", obj)
    send_event(client, "customer.subscription.updated", obj)  # a later event finds the row
    [row] = subscriptions(db)
    assert row.stripe_subscription_id == obj["id"]
    assert row.subscriber_id == user.id
    assert row.customer_id == stub_customer.id
    assert row.plan.stripe_plan_id == "plan_pro"
    assert row.is_created_at_stripe
    assert row.status == "active"
    assert row.current_period_end is not None
    assert [(name, kwargs["committed"]) for name, kwargs in subscription_signals][:1] == [("created", "active")]
    assert [name for name, _ in subscription_signals].count("created") == 1


def test_a_price_new_to_us_becomes_a_plan(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    stub_customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: ValidatingHTTPClient,
) -> None:
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "unused")
    obj["items"]["data"][0].update({"plan": None, "price": TEAM_PRICE})
    send_event(client, "customer.subscription.updated", obj)
    [row] = subscriptions(db)
    plan = row.plan
    assert (plan.stripe_plan_id, plan.name, plan.amount, plan.currency) == ("price_team", "Team", 9000, "eur")
    assert (plan.interval, plan.interval_count, plan.stripe_product_id) == ("month", 3, "prod_team")
    assert plan.is_created_at_stripe

    # A price given by its id only is read from Stripe first.
    product = stub.store.create("product", {})
    product.update({"name": "Lite", "active": True})
    price = stub.store.create("price", {})
    price.update(
        {
            "unit_amount": 1200,
            "currency": "usd",
            "nickname": None,
            "product": product["id"],
            "recurring": {"interval": "week", "interval_count": 1},
            "active": True,
        }
    )
    second = stub_subscription(stub, stub_customer.stripe_customer_id, "unused")
    second["items"]["data"][0].update({"plan": None, "price": price["id"]})
    stripe_http.clear()
    send_event(client, "customer.subscription.created", second)
    assert stripe_http.last("GET", "/v1/prices/{price}").path_params == {"price": price["id"]}
    assert subscriptions(db)[1].plan.name == "Lite"
    assert len(db.session.scalars(sa.select(StripeSubscriptionPlan)).all()) == 2


def test_subscriptions_of_customers_we_do_not_know_are_ignored(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, stripe_http: Any
) -> None:
    obj = stub_subscription(stub, "cus_not_ours", "unused")
    obj["items"]["data"][0].update({"plan": None, "price": TEAM_PRICE})
    db.session.add(StripeCustomer(stripe_customer_id="cus_orphan", is_created_at_stripe=True))  # no subscriber
    db.session.commit()
    orphan = {**obj, "id": "sub_orphan", "customer": "cus_orphan"}
    stripe_http.clear()
    for event_type, data in [("customer.subscription.created", obj), ("customer.subscription.updated", orphan)]:
        send_event(client, event_type, data)
    assert subscriptions(db) == []
    assert db.session.scalars(sa.select(StripeSubscriptionPlan)).all() == []
    assert list(stripe_http.requests) == []


def test_a_deleted_subscription_we_never_had_is_not_adopted(
    app: Flask, client: FlaskClient, db: SQLAlchemy, stub_customer: StripeCustomer, stub: StripeStub
) -> None:
    stripe_plan(db, "plan_pro")
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "plan_pro", status="canceled")
    send_event(client, "customer.subscription.deleted", obj)
    send_event(client, "customer.subscription.trial_will_end", obj)
    assert subscriptions(db) == []


def test_deliveries_at_once_make_one_row(
    app: Flask, db: SQLAlchemy, stub_customer: StripeCustomer, stub: StripeStub
) -> None:
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "unused")
    obj["items"]["data"][0].update({"plan": None, "price": TEAM_PRICE})  # the plan is imported at once too
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def run(event_type: str) -> None:
        try:
            start.wait()
            send_event(app.test_client(), event_type, obj)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    types = ["customer.subscription.created", "customer.subscription.updated"] * 2
    threads = [threading.Thread(target=run, args=(event_type,)) for event_type in types]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    [row] = subscriptions(db)
    assert row.stripe_subscription_id == obj["id"]
    assert len(db.session.scalars(sa.select(StripeSubscriptionPlan)).all()) == 1
    assert [webhook.status for webhook in db.session.scalars(sa.select(StripeWebhook))] == ["processed"] * 4


@pytest.mark.parametrize("matched_by", ["idempotency key", "plan"])
def test_a_subscribe_attempt_whose_answer_was_lost_is_that_subscription(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    stub_customer: StripeCustomer,
    stub: StripeStub,
    matched_by: str,
) -> None:
    plan = stripe_plan(db, "plan_pro")
    attempt = StripeSubscription(
        subscriber_id=user.id,
        customer_id=stub_customer.id,
        plan_id=plan.id,
        idempotency_key="key-of-the-attempt",
        stripe_request={"customer": stub_customer.stripe_customer_id, "items": [{"plan": "plan_pro"}]},
    )
    db.session.add(attempt)
    db.session.commit()
    assert stub_customer.stripe_customer_id
    obj = stub_subscription(stub, stub_customer.stripe_customer_id, "plan_pro")
    key = "key-of-the-attempt" if matched_by == "idempotency key" else None
    body = event("evt_adopt", "customer.subscription.created", data={"object": obj})
    body["request"] = {"id": "req_1", "idempotency_key": key}
    with SignalRecorder(signals.subscription_created):
        assert deliver(client, json.dumps(body).encode()).status_code == 200
    [row] = subscriptions(db)
    assert row.id == attempt.id
    assert row.stripe_subscription_id == obj["id"]
    assert row.is_created_at_stripe
    assert row.status == "active"

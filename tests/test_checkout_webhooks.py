"""``checkout.session.*`` events through the real webhook route (sessions held by the spec stub): the return page
only, the webhook only, both in either order and deliveries at once all make one row; asynchronous payments
settle the charge; sessions not ours and expired ones store nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import signals
from flask_stripe_billing.checkout import create_checkout_session
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeCustomer, StripeSubscription, StripeWebhook
from flask_stripe_billing.testing import SignalRecorder
from flask_stripe_billing.webhooks.handlers import BUILTIN_HANDLERS
from flask_stripe_billing.webhooks.handlers.checkout import CHECKOUT_EVENTS, checkout_session_changed
from tests import hostapp
from tests.factories.apps import log_in
from tests.factories.charges import new_charge
from tests.factories.checkout import (
    checkout_app,
    complete_in_stub,
    session_event_object,
    stub_payment_intent,
    stub_subscription,
)
from tests.factories.subscriptions import stripe_plan
from tests.factories.webhooks import send_event
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub


@pytest.fixture
def app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http) as application:
        yield application


def rows(db: SQLAlchemy, model: Any) -> list[Any]:
    db.session.commit()  # a new transaction: see what other connections committed
    db.session.expire_all()
    return list(db.session.scalars(sa.select(model)))


def subscription_session(stub: StripeStub, db: SQLAlchemy, user: hostapp.User) -> dict[str, Any]:
    """A subscription session of *user*'s, completed in the stub (as the ``checkout.session.completed`` event
    carries it: not expanded)."""
    session = create_checkout_session(user, stripe_plan(db, "plan_pro"))
    customer = db.session.scalars(sa.select(StripeCustomer)).one()
    assert customer.stripe_customer_id
    subscription = stub_subscription(stub, customer.stripe_customer_id, "plan_pro")
    return session_event_object(complete_in_stub(stub, session.id, subscription=subscription["id"]))


def test_the_handlers_are_registered() -> None:
    assert all(BUILTIN_HANDLERS[event_type] is checkout_session_changed for event_type in CHECKOUT_EVENTS)


@pytest.mark.parametrize("order", ["webhook only", "webhook first", "return page first", "webhook twice"])
def test_one_subscription_whichever_comes_first(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, order: str
) -> None:
    session = subscription_session(stub, db, user)
    log_in(client, user)
    with SignalRecorder(signals.subscription_created, signals.customer_created) as recorder:
        if order == "return page first":
            client.get(f"/billing/checkout/return?session_id={session['id']}")
        send_event(client, "checkout.session.completed", session)
        if order == "webhook twice":
            send_event(client, "checkout.session.completed", session)
        if order == "webhook first":
            client.get(f"/billing/checkout/return?session_id={session['id']}")
    [row] = rows(db, StripeSubscription)
    assert row.stripe_subscription_id == session["subscription"]
    assert row.subscriber_id == user.id
    assert row.status == "active"
    assert len(rows(db, StripeCustomer)) == 1
    created = recorder.of(signals.subscription_created)
    assert [sa.inspect(record.kwargs["instance"]).identity for record in created] == [(row.id,)]
    assert all(webhook.status == "processed" for webhook in rows(db, StripeWebhook))


def test_deliveries_at_once_make_one_row(app: Flask, db: SQLAlchemy, user: hostapp.User, stub: StripeStub) -> None:
    session = subscription_session(stub, db, user)
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def deliver(event_type: str) -> None:
        try:
            start.wait()
            send_event(app.test_client(), event_type, session)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    event_types = ["checkout.session.completed", "checkout.session.completed", "customer.subscription.created"]
    threads = [threading.Thread(target=deliver, args=(event_type,)) for event_type in event_types]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    [row] = rows(db, StripeSubscription)
    assert row.stripe_subscription_id == session["subscription"]
    assert sorted(webhook.status for webhook in rows(db, StripeWebhook)) == ["processed"] * 3


def test_an_asynchronous_payment_settles_the_charge(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub
) -> None:
    charge = new_charge(db, user, 4000, description="Bank transfer")
    price = {"currency": "usd", "unit_amount": 4000, "product_data": {"name": "Bank transfer"}}
    created = create_checkout_session(
        user, price, mode="payment", payment_intent_data={"metadata": {"charge_id": str(charge.id)}}
    )
    customer = db.session.scalars(sa.select(StripeCustomer)).one()
    assert customer.stripe_customer_id
    charge.customer_id = customer.id
    db.session.commit()
    intent = stub_payment_intent(
        stub, customer.stripe_customer_id, 4000, status="processing", metadata={"charge_id": str(charge.id)}
    )
    session = session_event_object(
        complete_in_stub(stub, created.id, payment_intent=intent["id"], payment_status="unpaid")
    )
    send_event(client, "checkout.session.completed", session)
    [row] = rows(db, StripeCharge)
    assert row.id == charge.id
    assert row.status == ChargeStatus.IN_FLIGHT
    assert row.stripe_payment_intent_id == intent["id"]

    log_in(client, user)
    client.get(f"/billing/checkout/return?session_id={created.id}")
    with client.session_transaction() as flask_session:
        [(category, message)] = flask_session["_flashes"]
    assert category == "info"
    assert "on its way" in message

    intent["status"] = "succeeded"
    stub.store.get(created.id)["payment_status"] = "paid"  # type: ignore[index]
    with SignalRecorder(signals.stripe_charge_succeeded) as recorder:
        send_event(client, "checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
    [row] = rows(db, StripeCharge)
    assert row.status == ChargeStatus.SUCCEEDED
    assert row.is_charged
    assert len(recorder.of(signals.stripe_charge_succeeded)) == 1


def test_a_failed_asynchronous_payment_is_recorded(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub
) -> None:
    created = create_checkout_session(
        user, {"currency": "usd", "unit_amount": 700, "product_data": {"name": "Gift"}}, mode="payment"
    )
    customer = db.session.scalars(sa.select(StripeCustomer)).one()
    assert customer.stripe_customer_id
    error = {"code": "payment_intent_payment_attempt_failed", "message": "The bank refused the debit."}
    intent = stub_payment_intent(
        stub, customer.stripe_customer_id, 700, status="requires_payment_method", last_payment_error=error
    )
    session = complete_in_stub(stub, created.id, payment_intent=intent["id"], payment_status="unpaid")
    send_event(client, "checkout.session.async_payment_failed", session_event_object(session))
    [row] = rows(db, StripeCharge)  # a payment made through Checkout alone gets a row of its own
    assert row.subscriber_id == user.id
    assert row.amount == 700
    assert row.status == ChargeStatus.FAILED
    assert row.failure_message == "The bank refused the debit."


def test_sessions_not_ours_and_expired_ones_store_nothing(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, stripe_http: Any
) -> None:
    session = subscription_session(stub, db, user)
    stripe_http.clear()
    send_event(client, "checkout.session.expired", {**session, "status": "expired"})
    send_event(client, "checkout.session.completed", {**session, "customer": "cus_someone_else"})
    send_event(client, "checkout.session.completed", {"id": "cs_x", "object": "payment_intent", "status": "complete"})
    send_event(client, "checkout.session.completed", {"object": "checkout.session"})
    assert list(stripe_http.requests) == []  # not even a re-read
    assert rows(db, StripeSubscription) == []
    assert all(webhook.status == "processed" for webhook in rows(db, StripeWebhook))

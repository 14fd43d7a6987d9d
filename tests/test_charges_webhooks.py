"""Charge events through the real webhook route: PaymentIntent outcomes, refunds, disputes, older events."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeRefund, StripeWebhook, WebhookStatus
from flask_stripe_billing.testing import SignalRecorder
from tests import hostapp
from tests.factories.charges import customer_with, new_charge
from tests.factories.webhooks import send_event


def send(client: FlaskClient, event_type: str, obj: dict[str, Any], *, age: int = 0) -> StripeWebhook:
    """Send a signed *event_type* event about *obj*, created *age* seconds ago; return it, processed."""
    response = send_event(client, event_type, obj, created=int(time.time()) - age)
    webhook = get_state().db.session.get(StripeWebhook, response.json["received"])
    assert webhook is not None
    get_state().db.session.refresh(webhook)
    assert webhook.status == WebhookStatus.PROCESSED, webhook.parse_error
    return webhook


def committed_status(db: SQLAlchemy, charge_id: int) -> str:
    with db.engine.connect() as connection:
        return str(connection.execute(sa.select(StripeCharge.status).where(StripeCharge.id == charge_id)).scalar_one())


def test_success_event_resolves_a_charge_whose_answer_was_lost(
    app: Flask, db: SQLAlchemy, user: hostapp.User, client: FlaskClient
) -> None:
    customer = customer_with(user)
    row = new_charge(db, user)
    # What a lost answer leaves: the PaymentIntent exists at Stripe, the row only knows its key.
    intent = get_state().gateway.request(
        "post",
        "/v1/payment_intents",
        {
            "amount": row.amount,
            "currency": "usd",
            "customer": customer.stripe_customer_id,
            "payment_method": customer.default_source,
            "confirm": True,
            "off_session": True,
            "metadata": {"charge_id": str(row.id)},
        },
        idempotency_key="lost-answer",
    )
    row.status, row.idempotency_key = ChargeStatus.UNKNOWN, "lost-answer"
    db.session.commit()
    seen: list[str] = []

    def receiver(sender: Any, instance: StripeCharge) -> None:
        seen.append(committed_status(db, instance.id))

    with signals.stripe_charge_succeeded.connected_to(receiver):
        send(client, "payment_intent.succeeded", intent)

    db.session.expire_all()
    assert row.status == ChargeStatus.SUCCEEDED
    assert row.is_charged
    assert row.stripe_payment_intent_id == intent["id"]
    assert seen == [ChargeStatus.SUCCEEDED]


def test_failure_event_for_another_charge_amount_is_not_adopted(
    app: Flask, db: SQLAlchemy, user: hostapp.User, client: FlaskClient
) -> None:
    row = new_charge(db, user, status=ChargeStatus.UNKNOWN, idempotency_key="k")
    send(
        client,
        "payment_intent.succeeded",
        {"id": "pi_other", "object": "payment_intent", "status": "succeeded", "amount": 1, "currency": "usd",
         "metadata": {"charge_id": str(row.id)}},
    )  # fmt: skip
    db.session.expire_all()
    assert row.status == ChargeStatus.UNKNOWN
    assert row.stripe_payment_intent_id is None


def test_an_older_event_never_undoes_a_success(
    app: Flask, db: SQLAlchemy, user: hostapp.User, client: FlaskClient
) -> None:
    customer_with(user)
    row = new_charge(db, user)
    row.charge()
    intent = get_state().gateway.request("get", f"/v1/payment_intents/{row.stripe_payment_intent_id}")
    failed = {**intent, "status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}

    with SignalRecorder(signals.stripe_charge_card_exception) as received:
        send(client, "payment_intent.payment_failed", failed, age=120)

    db.session.expire_all()
    assert row.status == ChargeStatus.SUCCEEDED
    assert row.failure_code is None
    assert received.records == []


def test_refund_event_records_a_dashboard_refund_and_matches_ours(
    app: Flask, db: SQLAlchemy, user: hostapp.User, client: FlaskClient
) -> None:
    customer_with(user)
    row = new_charge(db, user, amount=5000)
    row.charge()
    ours = row.refund(1000)
    gateway = get_state().gateway
    gateway.request(
        "post", "/v1/refunds", {"charge": row.stripe_charge_id, "amount": 1500}, object_type="refund", action="create"
    )
    stripe_charge = gateway.request("get", f"/v1/charges/{row.stripe_charge_id}")
    assert stripe_charge["amount_refunded"] == 2500
    refunded: list[Any] = []  # ids read when the signal is sent, while its session is open

    with signals.stripe_charge_refunded.connected_to(lambda sender, **kw: refunded.append(kw["refund"].id)):
        send(client, "charge.refunded", stripe_charge)

    db.session.expire_all()
    assert row.amount_refunded == 2500
    refunds = list(db.session.scalars(sa.select(StripeRefund).order_by(StripeRefund.id)))
    assert [(refund.amount, refund.idempotency_key is not None) for refund in refunds] == [(1000, True), (1500, False)]
    assert refunds[0].id == ours.id
    assert refunded == [refunds[1].id]
    send(client, "charge.refunded", stripe_charge)  # again: nothing new
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeRefund)) == 2


def test_dispute_event_marks_the_charge(app: Flask, db: SQLAlchemy, user: hostapp.User, client: FlaskClient) -> None:
    customer_with(user)
    row = new_charge(db, user)
    row.charge()
    send(
        client,
        "charge.dispute.created",
        {"id": "dp_1", "object": "dispute", "charge": row.stripe_charge_id, "reason": "fraudulent", "amount": 1500},
    )
    db.session.expire_all()
    assert row.is_disputed
    assert row.dispute_reason == "fraudulent"

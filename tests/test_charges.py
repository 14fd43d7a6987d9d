"""Charges against the offline Stripe: success, declines, 3-D Secure, no customer, bad input, refunds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors, signals
from flask_stripe_billing.charges.refunds import refund
from flask_stripe_billing.charges.send import charge as charge_verb
from flask_stripe_billing.charges.send import refresh_charge
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import ChargeStatus, RefundStatus, StripeCharge, StripeCustomer, StripeRefund
from flask_stripe_billing.offline import OfflineStripe
from tests import hostapp
from tests.factories.cards import DECLINED_ON_CHARGE, GOOD_CARD, SCA_CARD, make_payment_method
from tests.factories.charges import authenticate, customer_with, intents_for, new_charge
from tests.factories.signals import signals_with_committed_state
from tests.stripe_openapi.http_client import ValidatingHTTPClient


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every charge signal sent, with the charge's committed (status, amount refunded) when it arrived."""
    names = {
        signals.stripe_charge_succeeded: "succeeded",
        signals.stripe_charge_card_exception: "card_exception",
        signals.payment_needs_action: "needs_action",
        signals.stripe_charge_refunded: "refunded",
    }

    def committed(connection: sa.Connection, charge: StripeCharge) -> tuple[Any, ...]:
        query = sa.select(StripeCharge.status, StripeCharge.amount_refunded).where(StripeCharge.id == charge.id)
        return tuple(connection.execute(query).one())

    with signals_with_committed_state(names, committed) as seen:
        yield seen


@pytest.mark.parametrize("flow", ["payment_method", "token"])
def test_success_charges_the_default_card_off_session(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    stripe_http: ValidatingHTTPClient,
    received: list[tuple[str, dict[str, Any]]],
    flow: str,
) -> None:
    customer = customer_with(user, flow=flow)
    row = new_charge(db, user, source_type="order", source_id="42")

    assert row.charge() is row

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.is_charged
    assert not row.charge_attempt_failed
    assert row.stripe_payment_intent_id
    assert row.stripe_payment_intent_id.startswith("pi_")
    assert row.stripe_charge_id
    assert row.stripe_charge_id.startswith("ch_")
    assert row.customer_id == customer.id
    assert row.charged_at is not None
    assert row.claimed_by is None
    assert row.attempts == 1
    sent = stripe_http.last("POST", "/v1/payment_intents")
    assert sent.idempotency_key == row.idempotency_key
    assert sent.params["off_session"] is True
    assert sent.params["confirm"] is True
    assert sent.params["payment_method"] == customer.default_source  # a pm_... or a card_...
    assert sent.params["customer"] == customer.stripe_customer_id
    assert sent.params["metadata"] == {
        "charge_id": str(row.id),
        "subscriber_id": str(user.id),
        "source_type": "order",
        "source_id": "42",
    }
    assert [intent["status"] for intent in intents_for(row.id)] == ["succeeded"]
    assert received == [("succeeded", {"instance": row, "committed": (ChargeStatus.SUCCEEDED, 0)})]


def test_decline_is_recorded_apart_and_never_retried_by_cron(
    app: Flask, db: SQLAlchemy, user: hostapp.User, received: list[tuple[str, dict[str, Any]]]
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    row = new_charge(db, user)

    with pytest.raises(errors.CardError) as caught:
        row.charge()

    db.session.expire_all()
    assert row.status == ChargeStatus.FAILED
    assert row.charge_attempt_failed
    assert not row.is_charged
    assert row.failure_code == "card_declined"
    assert row.failure_message == caught.value.user_message
    assert row.stripe_response is not None
    assert "error" in row.stripe_response
    assert [name for name, _ in received] == ["card_exception"]
    assert received[0][1]["exception"] is caught.value
    assert received[0][1]["committed"][0] == ChargeStatus.FAILED

    result = app.test_cli_runner().invoke(args=["stripe", "charge", "--dry-run"])
    assert "Would charge 0 charge(s)." in result.output


def test_declined_charge_charged_again_on_request_uses_a_new_key(
    app: Flask, db: SQLAlchemy, user: hostapp.User
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    row = new_charge(db, user)
    with pytest.raises(errors.CardError):
        row.charge()
    first_key = row.idempotency_key
    create_customer(user, make_payment_method(GOOD_CARD))  # the customer saves a new card

    row.charge()

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.idempotency_key != first_key
    assert row.failure_code is None
    assert row.decline_code is None
    assert row.attempts == 2


def test_authentication_required_keeps_the_client_secret_and_raises(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    offline_stripe: OfflineStripe,
    received: list[tuple[str, dict[str, Any]]],
) -> None:
    customer_with(user, SCA_CARD)
    row = new_charge(db, user)

    with pytest.raises(errors.PaymentActionRequired) as caught:
        row.charge()

    assert row.status == ChargeStatus.REQUIRES_ACTION
    assert not row.is_charged
    assert not row.charge_attempt_failed
    assert caught.value.charge_id == row.id
    assert caught.value.payment_intent_id == row.stripe_payment_intent_id
    assert caught.value.client_secret == row.payment_intent_client_secret
    assert row.payment_intent_client_secret
    assert row.payment_intent_client_secret.startswith(f"{row.stripe_payment_intent_id}_secret_")
    assert [name for name, _ in received] == ["needs_action"]
    assert received[0][1]["confirm_url"] == caught.value.confirm_url
    with pytest.raises(errors.ChargeStateError):
        row.charge()  # waiting for the customer: not charged again

    authenticate(offline_stripe, row)  # the customer passes 3-D Secure; then we re-read
    refresh_charge(row)

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.is_charged
    assert [name for name, _ in received] == ["needs_action", "succeeded"]
    assert len(intents_for(row.id)) == 1


def test_no_customer_is_recorded_and_the_charge_stays_pending(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    row = new_charge(db, user)
    stripe_http.clear()

    with pytest.raises(errors.NoCustomerError):
        charge_verb(row)

    db.session.expire_all()
    assert row.status == ChargeStatus.PENDING
    assert row.failure_code == "no_customer"
    assert row.failure_message
    assert row.idempotency_key is None
    assert not stripe_http.requests


BAD_INPUT = [
    pytest.param({"currency": "xyz"}, id="unsupported-currency"),
    pytest.param({"currency": "us"}, id="malformed-currency"),
    pytest.param({"statement_descriptor": "A" * 23}, id="descriptor-too-long"),
    pytest.param({"statement_descriptor": "Shop <3"}, id="descriptor-forbidden-char"),
    pytest.param({"statement_descriptor": 'Say "hi"'}, id="descriptor-quote"),
    pytest.param({"statement_descriptor": "12345"}, id="descriptor-no-letter"),
    pytest.param({"statement_descriptor": "Café"}, id="descriptor-non-ascii"),
    pytest.param({"amount": 0}, id="zero-amount"),
    pytest.param({"amount": -100}, id="negative-amount"),
    pytest.param({"amount": 100_000_000}, id="amount-too-large"),
    pytest.param({"amount": 10.5}, id="fractional-amount"),
]


@pytest.mark.parametrize("change", BAD_INPUT)
def test_bad_input_is_refused_before_any_request(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient, change: dict[str, Any]
) -> None:
    customer_with(user)
    row = new_charge(db, user)
    before = {column: getattr(row, column) for column in ("status", "attempts", "idempotency_key", "amount")}
    stripe_http.clear()
    for name, value in change.items():
        setattr(row, name, value)  # as a caller would, without committing

    with pytest.raises(errors.ChargeStateError):
        row.charge()

    assert not stripe_http.requests
    db.session.rollback()
    assert {column: getattr(row, column) for column in before} == before


def test_charging_a_charged_row_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    customer_with(user)
    row = new_charge(db, user)
    row.charge()
    stripe_http.clear()

    with pytest.raises(errors.ChargeStateError, match="already charged"):
        row.charge()
    assert not stripe_http.requests
    assert len(intents_for(row.id)) == 1


def test_a_new_row_is_saved_then_charged(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    row = StripeCharge(subscriber_id=user.id, amount=700, currency="eur")
    charge_verb(row)
    assert row.id is not None
    assert row.is_charged


# -- refunds -----------------------------------------------------------------------------------------------


def test_partial_then_full_refund(
    app: Flask, db: SQLAlchemy, user: hostapp.User, received: list[tuple[str, dict[str, Any]]]
) -> None:
    customer_with(user)
    row = new_charge(db, user, amount=5000)
    row.charge()
    received.clear()

    first = row.refund(2000)
    second = refund(row)

    assert (first.amount, second.amount) == (2000, 3000)
    assert first.status == second.status == RefundStatus.SUCCEEDED
    assert first.idempotency_key
    assert second.idempotency_key
    assert first.idempotency_key != second.idempotency_key
    assert first.stripe_refund_id
    assert first.stripe_refund_id != second.stripe_refund_id
    assert row.amount_refunded == 5000
    assert row.is_refunded
    # The charge's total is Stripe's, from each answer (the refund's charge, expanded).
    assert first.stripe_response is not None
    assert first.stripe_response["charge"]["amount_refunded"] == 2000
    assert [(name, kwargs["refund"], kwargs["committed"]) for name, kwargs in received] == [
        ("refunded", first, (ChargeStatus.SUCCEEDED, 2000)),
        ("refunded", second, (ChargeStatus.SUCCEEDED, 5000)),
    ]
    with pytest.raises(errors.ChargeStateError, match="fully refunded"):
        row.refund()


def test_refund_after_a_dashboard_refund_never_exceeds_what_remains(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    customer_with(user)
    row = new_charge(db, user, amount=5000)
    row.charge()
    # Someone refunds 4,000 in the Stripe Dashboard; our figure still says 0 refunded.
    get_state().gateway.request(
        "post", "/v1/refunds", {"charge": row.stripe_charge_id, "amount": 4000}, object_type="refund", action="create"
    )
    stripe_http.clear()

    with pytest.raises(errors.ChargeStateError, match="only 1000"):
        row.refund(2000)

    assert [request.method for request in stripe_http.requests] == ["GET"]  # re-read, nothing refunded
    assert row.amount_refunded == 4000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeRefund)) == 0
    remainder = row.refund()
    assert remainder.amount == 1000
    assert row.is_refunded


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(0, None), (-5, None), (10.0, None), (True, None), (5001, None), (100, "because")],
)
def test_bad_refunds_are_refused_before_any_request(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient, amount: Any, reason: Any
) -> None:
    customer_with(user)
    row = new_charge(db, user, amount=5000)
    row.charge()
    stripe_http.clear()

    with pytest.raises(errors.ChargeStateError):
        refund(row, amount, reason=reason)

    assert not stripe_http.requests
    assert row.amount_refunded == 0
    assert not row.refunds


def test_refunding_an_uncharged_row_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    row = new_charge(db, user)
    stripe_http.clear()
    with pytest.raises(errors.ChargeStateError, match="not charged"):
        row.refund(100)
    assert not stripe_http.requests


def test_a_customer_without_a_default_card_counts_as_no_customer(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    db.session.add(StripeCustomer(subscriber_id=user.id, stripe_customer_id="cus_nocard", is_created_at_stripe=True))
    row = new_charge(db, user)
    stripe_http.clear()

    with pytest.raises(errors.NoCustomerError):
        row.charge()

    assert row.failure_code == "no_customer"
    assert row.status == ChargeStatus.PENDING
    assert not stripe_http.requests


def test_description_and_statement_descriptor_reach_stripe(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    row = new_charge(db, user, description="Order 42", statement_descriptor="ORDER 42")
    row.charge()
    [intent] = intents_for(row.id)
    assert intent["description"] == "Order 42"
    assert intent["statement_descriptor_suffix"] == "ORDER 42"
    assert row.status == ChargeStatus.SUCCEEDED

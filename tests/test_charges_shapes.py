"""Charges against the spec-validating stub: what localstripe cannot show.

Lost answers (a 5xx, then the replay with the same key), current and older PaymentIntent shapes
(``latest_charge`` as an id or an object, the old ``charges.data[]`` list), Stripe's own answers for an off-session
payment that needs authentication or is declined (402 with the PaymentIntent in the error), 429s, and the
parameters localstripe does not accept (``description``, ``statement_descriptor_suffix``, a refund ``reason``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_stripe_billing import errors
from flask_stripe_billing.charges.from_stripe import apply_payment_intent
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeCustomer, utcnow
from tests import hostapp
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import Answer, StripeStub, stripe_error


@pytest.fixture
def row(stub_app: Flask) -> StripeCharge:
    db = hostapp.db
    user = hostapp.User(email="grace@example.com")
    db.session.add(user)
    db.session.commit()
    customer = StripeCustomer(
        subscriber_id=user.id, stripe_customer_id="cus_stub", default_source="pm_stub", is_created_at_stripe=True
    )
    db.session.add(customer)
    db.session.commit()
    charge = StripeCharge(subscriber_id=user.id, amount=2500, currency="usd")
    db.session.add(charge)
    db.session.commit()
    return charge


def intent(params: dict[str, Any], stub: StripeStub, status: str = "succeeded", **fields: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe answers, built from the stub's fixture and the posted parameters."""
    obj = stub.store.create("payment_intent", params)
    obj.update(
        status=status,
        amount=params["amount"],
        currency=params["currency"],
        client_secret=f"{obj['id']}_secret_test",
        latest_charge=None,
        last_payment_error=None,
    )
    obj.pop("charges", None)
    obj.update(fields)
    return obj


def scripted(*answers: Callable[[dict[str, Any]], Answer]) -> Callable[[dict[str, Any], Any], Answer]:
    """A stub handler giving each answer in turn (the last one again once exhausted)."""
    queue = list(answers)

    def handler(params: dict[str, Any], stored: Any) -> Answer:
        return (queue.pop(0) if len(queue) > 1 else queue[0])(params)

    return handler


@pytest.mark.parametrize(
    "charge_field",
    [
        pytest.param(lambda: "ch_new_shape", id="latest_charge-id"),
        pytest.param(
            lambda: {"id": "ch_new_shape", "object": "charge", "amount_refunded": 0}, id="latest_charge-object"
        ),
    ],
)
def test_current_shape(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient, charge_field: Callable[[], Any]
) -> None:
    stub.on("POST", "/v1/payment_intents", lambda params, _: (200, intent(params, stub, latest_charge=charge_field())))
    row.description = "Order 42"
    row.statement_descriptor = "ORDER 42"

    row.charge()

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.stripe_charge_id == "ch_new_shape"
    sent = stripe_http.last("POST", "/v1/payment_intents")
    assert sent.params["description"] == "Order 42"
    assert sent.params["statement_descriptor_suffix"] == "ORDER 42"
    assert "statement_descriptor" not in sent.params  # refused for card payments by current API versions
    assert sent.params["payment_method_types"] == ["card"]


def test_older_shape_with_a_charges_list(stub: StripeStub, row: StripeCharge) -> None:
    def old(params: dict[str, Any]) -> Answer:
        obj = intent(params, stub)
        del obj["latest_charge"]
        obj["charges"] = {"object": "list", "data": [{"id": "ch_old_shape", "object": "charge", "amount_refunded": 0}]}
        return 200, obj

    stub.on("POST", "/v1/payment_intents", scripted(old))
    row.charge()
    assert row.stripe_charge_id == "ch_old_shape"
    assert row.is_charged


def test_lost_answer_is_unknown_then_the_same_key_adopts_stripes_answer(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    stub.on(
        "POST",
        "/v1/payment_intents",
        scripted(
            lambda params: stripe_error(500, "Something went wrong on Stripe's end.", kind="api_error"),
            lambda params: (200, intent(params, stub, latest_charge="ch_after_replay")),
        ),
    )
    with pytest.raises(errors.OutcomeUnknownError):
        row.charge()
    assert row.status == ChargeStatus.UNKNOWN
    assert not row.charge_attempt_failed
    assert not row.is_charged
    first_key = row.idempotency_key

    with pytest.raises(errors.ChargeStateError, match="replayed with that key"):
        row.charge(idempotency_key="a-new-key")
    row.charge()

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.stripe_charge_id == "ch_after_replay"
    sent = [request for request in stripe_http.requests if request.templated_path == "/v1/payment_intents"]
    assert [request.idempotency_key for request in sent] == [first_key, first_key]
    assert sent[0].params == sent[1].params  # the same request, so Stripe can replay it


def test_off_session_authentication_required_the_way_stripe_answers(stub: StripeStub, row: StripeCharge) -> None:
    def needs_authentication(params: dict[str, Any]) -> Answer:
        error = {
            "code": "authentication_required",
            "decline_code": "authentication_required",
            "message": "Your card was declined. This transaction requires authentication.",
        }
        obj = intent(params, stub, status="requires_payment_method", last_payment_error=error)
        return stripe_error(402, error["message"], kind="card_error", code=error["code"], payment_intent=obj)

    stub.on("POST", "/v1/payment_intents", scripted(needs_authentication))
    with pytest.raises(errors.PaymentActionRequired) as caught:
        row.charge()
    assert row.status == ChargeStatus.REQUIRES_ACTION
    assert not row.charge_attempt_failed
    assert caught.value.client_secret == row.payment_intent_client_secret is not None
    assert caught.value.payment_intent_id == row.stripe_payment_intent_id is not None


def test_decline_with_decline_code_the_way_stripe_answers(stub: StripeStub, row: StripeCharge) -> None:
    def declined(params: dict[str, Any]) -> Answer:
        error = {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
        obj = intent(
            params, stub, status="requires_payment_method", last_payment_error=error, latest_charge="ch_failed"
        )
        return stripe_error(
            402,
            error["message"],
            kind="card_error",
            code="card_declined",
            decline_code="insufficient_funds",
            payment_intent=obj,
        )

    stub.on("POST", "/v1/payment_intents", scripted(declined))
    with pytest.raises(errors.CardError):
        row.charge()
    assert (row.status, row.failure_code, row.decline_code) == (
        ChargeStatus.FAILED,
        "card_declined",
        "insufficient_funds",
    )
    assert row.failure_message == "Your card has insufficient funds."
    assert row.stripe_payment_intent_id
    assert row.stripe_charge_id == "ch_failed"


def test_rate_limited_goes_back_to_pending_with_its_key(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    stub.on(
        "POST",
        "/v1/payment_intents",
        scripted(
            lambda params: stripe_error(429, "Too many requests", kind="rate_limit_error"),
            lambda params: (200, intent(params, stub)),
        ),
    )
    with pytest.raises(errors.RateLimitError):
        row.charge()
    assert row.status == ChargeStatus.PENDING
    assert row.idempotency_key
    key = row.idempotency_key
    row.charge()
    assert row.is_charged
    assert row.idempotency_key == key


def test_idempotency_error_leaves_the_charge_unknown(stub: StripeStub, row: StripeCharge) -> None:
    stub.on(
        "POST",
        "/v1/payment_intents",
        scripted(
            lambda params: stripe_error(500, "lost", kind="api_error"),
            lambda params: stripe_error(400, "Keys for idempotent requests ...", kind="idempotency_error"),
        ),
    )
    with pytest.raises(errors.OutcomeUnknownError):
        row.charge()
    hostapp.db.session.refresh(row)
    row.amount = 2600  # changed after a first attempt whose outcome is unknown
    hostapp.db.session.commit()
    with pytest.raises(errors.IdempotencyError):
        row.charge()
    assert row.status == ChargeStatus.UNKNOWN
    assert row.failure_code == "idempotency_error"
    assert not row.charge_attempt_failed  # may have been charged: never marked failed


def test_processing_is_re_read_not_sent_again(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    created: list[dict[str, Any]] = []

    def processing(params: dict[str, Any]) -> Answer:
        created.append(intent(params, stub, status="processing"))
        return 200, created[-1]

    stub.on("POST", "/v1/payment_intents", scripted(processing))
    row.charge()
    assert row.status == ChargeStatus.IN_FLIGHT
    assert row.claimed_until is None
    created[0].update(status="succeeded", latest_charge="ch_later")

    row.charge()  # what the next run does with it: read the PaymentIntent, send nothing

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.stripe_charge_id == "ch_later"
    assert len(created) == 1
    assert stripe_http.last().method == "GET"


def test_refund_sends_reason_and_amount(stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient) -> None:
    stub.on("POST", "/v1/payment_intents", lambda params, _: (200, intent(params, stub, latest_charge="ch_paid")))
    stub.on(
        "GET",
        "/v1/charges/{charge}",
        lambda params, _: (200, {"id": "ch_paid", "object": "charge", "amount_refunded": 0}),
    )
    stub.on(
        "POST",
        "/v1/refunds",
        lambda params, _: (200, stub.store.create("refund", {**params, "status": "succeeded"})),
    )
    row.charge()
    refund = row.refund(500, reason="requested_by_customer")
    sent = stripe_http.last("POST", "/v1/refunds")
    assert sent.params["reason"] == "requested_by_customer"
    assert sent.params["amount"] == 500
    assert sent.params["charge"] == "ch_paid"
    assert sent.idempotency_key == refund.idempotency_key
    assert row.amount_refunded == 500


def test_refund_with_a_lost_answer_is_finished_by_replaying_its_key(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    stub.on("POST", "/v1/payment_intents", lambda params, _: (200, intent(params, stub, latest_charge="ch_paid")))
    refunded = {"amount": 0}
    stub.on(
        "GET",
        "/v1/charges/{charge}",
        lambda params, _: (200, {"id": "ch_paid", "object": "charge", "amount_refunded": refunded["amount"]}),
    )

    def made(params: dict[str, Any]) -> Answer:
        refunded["amount"] += params["amount"]
        return 200, stub.store.create("refund", {**params, "status": "succeeded"})

    stub.on("POST", "/v1/refunds", scripted(lambda params: stripe_error(503, "lost", kind="api_error"), made))
    row.charge()
    with pytest.raises(errors.OutcomeUnknownError):
        row.refund(1000)
    lost = row.refunds[0]
    assert lost.status == "unknown"

    second = row.refund(500)

    keys = [request.idempotency_key for request in stripe_http.requests if request.templated_path == "/v1/refunds"]
    assert keys == [lost.idempotency_key, lost.idempotency_key, second.idempotency_key]
    assert lost.status == "succeeded"
    assert row.amount_refunded == 1500


def test_an_older_payment_intent_never_overwrites_newer_data(stub_app: Flask, row: StripeCharge) -> None:
    now = time.time()
    from flask_stripe_billing.models import from_timestamp

    apply_payment_intent(row, {"id": "pi_1", "status": "succeeded", "latest_charge": "ch_1"}, from_timestamp(now))
    apply_payment_intent(
        row,
        {"id": "pi_1", "status": "requires_payment_method", "last_payment_error": {"code": "x"}},
        from_timestamp(now - 60),
    )
    assert row.status == ChargeStatus.SUCCEEDED
    assert row.failure_code is None
    # Even data of the same age never takes a succeeded charge back.
    apply_payment_intent(row, {"id": "pi_1", "status": "canceled"}, from_timestamp(now + 1))
    assert row.status == ChargeStatus.SUCCEEDED
    assert row.is_charged


def _stale_unknown(row: StripeCharge) -> None:
    """What a lost answer left more than a day ago: Stripe may have forgotten the key since."""
    row.status = ChargeStatus.UNKNOWN
    # The first send stored the customer it paid with before its request.
    row.customer = hostapp.db.session.scalars(sa.select(StripeCustomer)).one()
    row.idempotency_key = "key-from-the-day-before"
    row.idempotency_key_created_at = utcnow() - dt.timedelta(hours=30)
    hostapp.db.session.commit()


def test_a_key_stripe_may_have_forgotten_is_not_replayed_when_the_payment_was_made(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    _stale_unknown(row)
    assert row.customer is not None
    customer = row.customer.stripe_customer_id
    made = intent(
        {"amount": row.amount, "currency": "usd", "customer": customer, "metadata": {"charge_id": str(row.id)}}, stub
    )
    made["latest_charge"] = "ch_made_yesterday"
    stub.on("GET", "/v1/payment_intents/search", lambda params, _: (200, {"object": "search_result", "data": [made]}))
    stub.on("GET", "/v1/payment_intents/{intent}", lambda params, _: (200, made))

    row.charge()

    assert row.status == ChargeStatus.SUCCEEDED
    assert row.stripe_payment_intent_id == made["id"]
    assert row.stripe_charge_id == "ch_made_yesterday"
    search = stripe_http.last("GET", "/v1/payment_intents/search")
    assert search.params["query"] == f"metadata['charge_id']:'{row.id}'"
    assert not [r for r in stripe_http.requests if r.method == "POST"]  # nothing sent again


def test_another_applications_payment_with_the_same_charge_id_is_not_taken_for_ours(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    _stale_unknown(row)
    theirs = intent(
        {"amount": 99, "currency": "eur", "customer": "cus_theirs", "metadata": {"charge_id": str(row.id)}}, stub
    )
    stub.on("GET", "/v1/payment_intents/search", lambda params, _: (200, {"object": "search_result", "data": [theirs]}))
    stub.on("POST", "/v1/payment_intents", lambda params, _: (200, intent(params, stub, latest_charge="ch_ours")))

    row.charge()

    assert row.stripe_payment_intent_id != theirs["id"]
    assert row.stripe_charge_id == "ch_ours"
    assert stripe_http.last("POST", "/v1/payment_intents").idempotency_key == "key-from-the-day-before"


def test_a_key_stripe_may_have_forgotten_is_sent_when_no_payment_was_made(
    stub: StripeStub, row: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    _stale_unknown(row)
    stub.on("GET", "/v1/payment_intents/search", lambda params, _: (200, {"object": "search_result", "data": []}))
    stub.on("POST", "/v1/payment_intents", lambda params, _: (200, intent(params, stub, latest_charge="ch_today")))

    row.charge()

    assert row.status == ChargeStatus.SUCCEEDED
    assert stripe_http.last("POST", "/v1/payment_intents").idempotency_key == "key-from-the-day-before"

"""Refunds made at the same moment, and refunds whose answer was lost, against the offline Stripe behind the proxy.

Every thread has its own application context (so its own session and connection), as concurrent requests or
workers of a host application would.  The proxy keeps Stripe's idempotency semantics and, when asked, its rule
that refunds never exceed the charge (``refund_limit``), so that the tests see what Stripe would do — and that
our own check holds without it.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_stripe_billing import errors, signals
from flask_stripe_billing.charges.claims import claim_refunds
from flask_stripe_billing.charges.refunds import refund, settle_refunds
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import RefundStatus, StripeCharge, StripeRefund, utcnow
from flask_stripe_billing.offline import OfflineStripe
from tests import hostapp
from tests.factories.apps import make_user, running_app
from tests.factories.charges import customer_with, new_charge
from tests.fault_proxy import FaultProxy
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error

AMOUNT = 1000
#: What each thread asks for: ``None`` is "all that remains".
ASKED = (None, 50, 100, 125, 200, 250, 300, 400, 999)


@pytest.fixture
def proxy(offline_stripe: OfflineStripe) -> Iterator[FaultProxy]:
    with FaultProxy(offline_stripe.url, refund_limit=True, latency=0.002) as server:
        yield server


@pytest.fixture
def app(
    database_url: str,
    stripe_test_config: dict[str, Any],
    offline_stripe: OfflineStripe,
    stripe_http: ValidatingHTTPClient,
    proxy: FaultProxy,
) -> Iterator[Flask]:
    stripe_http.clear()
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_API_BASE": proxy.url}
    with running_app(config, http_client=stripe_http) as application:
        yield application


@pytest.fixture
def charged(app: Flask) -> StripeCharge:
    """A charge of 1,000 cents, charged through the proxy."""
    db = hostapp.db
    user = make_user(db)
    customer_with(user)
    row = new_charge(db, user, amount=AMOUNT)
    row.charge()
    assert row.is_charged
    return row


def stripe_refunds(charge: StripeCharge) -> list[dict[str, Any]]:
    """The refunds Stripe holds for *charge*."""
    return list(get_state().gateway.list_all("/v1/refunds", {"charge": charge.stripe_charge_id}))


def stripe_refunded(charge: StripeCharge) -> int:
    """Stripe's own figure of what was refunded of *charge*."""
    return int(get_state().gateway.request("get", f"/v1/charges/{charge.stripe_charge_id}")["amount_refunded"])


def our_refunds(charge_id: int) -> list[StripeRefund]:
    session = hostapp.db.session
    session.expire_all()
    return list(session.scalars(sa.select(StripeRefund).where(StripeRefund.charge_id == charge_id)))


def refund_at_once(app: Flask, charge_id: int, asked: list[int | None]) -> list[tuple[str, int | None, Any]]:
    """Refund *asked* of one charge from as many threads, all started together; each thread's outcome."""
    outcomes: list[tuple[str, int | None, Any]] = []
    start = threading.Barrier(len(asked))

    def work(amount: int | None) -> None:
        with app.app_context():
            try:
                start.wait()
                charge = hostapp.db.session.get(StripeCharge, charge_id)
                assert charge is not None
                made = refund(charge, amount, wait=300)
                outcomes.append(("refunded", amount, made.amount))
            except errors.ChargeStateError as exc:
                outcomes.append(("refused", amount, str(exc)))
            except Exception as exc:  # reported by the assertion below, with what it was
                outcomes.append(("error", amount, repr(exc)))

    threads = [threading.Thread(target=work, args=(amount,)) for amount in asked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("threads", [8, 32])
@pytest.mark.parametrize("stripe_rule", [False, True], ids=["our-check-alone", "stripe-rule"])
def test_concurrent_refunds_never_exceed_the_charge_and_the_row_is_stripes_figure(
    app: Flask, charged: StripeCharge, proxy: FaultProxy, threads: int, stripe_rule: bool
) -> None:
    proxy.refund_limit = stripe_rule
    chooser = random.Random(threads)
    asked = [None, None, *(chooser.choice(ASKED) for _ in range(threads - 2))]

    outcomes = refund_at_once(app, charged.id, asked)

    assert [outcome for outcome in outcomes if outcome[0] == "error"] == []
    at_stripe = stripe_refunds(charged)
    total = stripe_refunded(charged)
    assert total == sum(item["amount"] for item in at_stripe) <= AMOUNT
    refunded = [outcome for outcome in outcomes if outcome[0] == "refunded"]
    refused = [outcome for outcome in outcomes if outcome[0] == "refused"]
    assert refunded
    assert refused
    assert sum(outcome[2] for outcome in refunded) == total
    # Each refusal was right when it was made: it asked for more than remained then (which is at least what
    # remains now).
    for _, amount, message in refused:
        assert (amount or AMOUNT + 1) > AMOUNT - total, message
    hostapp.db.session.commit()  # a new transaction sees the threads' commits (MariaDB: REPEATABLE READ)
    hostapp.db.session.refresh(charged)
    assert charged.amount_refunded == total
    assert charged.is_refunded == (total == AMOUNT)
    assert charged.refund_claimed_until is None
    rows = our_refunds(charged.id)
    assert {row.status for row in rows} == {RefundStatus.SUCCEEDED}
    assert sorted(row.stripe_refund_id or "" for row in rows) == sorted(item["id"] for item in at_stripe)
    assert sorted(row.amount for row in rows) == sorted(item["amount"] for item in at_stripe)
    assert proxy.counts["refund_refused"] == 0  # our own check held: Stripe never had to refuse
    assert not proxy.violations


def test_the_proxy_refuses_over_refunds_as_stripe_does(charged: StripeCharge, proxy: FaultProxy) -> None:
    gateway = get_state().gateway

    def send(amount: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"charge": charged.stripe_charge_id}
        if amount is not None:
            params["amount"] = amount
        return gateway.request("post", "/v1/refunds", params, object_type="refund", action="create")

    send(600)
    with pytest.raises(errors.InvalidRequestError) as too_much:
        send(600)
    assert too_much.value.http_status == 400
    assert too_much.value.param == "amount"
    assert too_much.value.message == "Refund amount ($6.00) is greater than unrefunded amount on charge ($4.00)"
    send(None)
    with pytest.raises(errors.InvalidRequestError) as none_left:
        send(1)
    assert none_left.value.code == "charge_already_refunded"
    assert stripe_refunded(charged) == AMOUNT
    assert proxy.counts["refund_refused"] == 2


@pytest.mark.parametrize("key_age", [dt.timedelta(0), dt.timedelta(days=2)], ids=["replayed", "looked-up"])
def test_a_lost_answer_is_unknown_then_settled_from_stripe_without_a_second_refund(
    charged: StripeCharge, proxy: FaultProxy, key_age: dt.timedelta
) -> None:
    seen: list[StripeRefund] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs["refund"])

    proxy.queue_fault("drop_after", method="POST", path="/v1/refunds")
    with pytest.raises(errors.OutcomeUnknownError):
        charged.refund(300)

    [lost] = our_refunds(charged.id)
    assert lost.status == RefundStatus.UNKNOWN
    assert lost.stripe_refund_id is None
    assert charged.amount_refunded == 0  # not guessed
    [made] = stripe_refunds(charged)  # Stripe did refund it
    assert made["metadata"]["refund_id"] == str(lost.id)
    lost.created_at = utcnow() - key_age  # a key Stripe may have forgotten is looked up, not replayed
    hostapp.db.session.commit()

    with signals.stripe_charge_refunded.connected_to(receive):
        settled = settle_refunds(charged)

    assert settled == [lost]
    assert lost.status == RefundStatus.SUCCEEDED
    assert lost.stripe_refund_id == made["id"]
    assert charged.amount_refunded == stripe_refunded(charged) == 300
    assert len(stripe_refunds(charged)) == 1
    assert proxy.counts["replayed"] == (1 if key_age == dt.timedelta(0) else 0)
    assert seen == [lost]
    assert settle_refunds(charged) == []  # nothing left to settle

    rest = charged.refund()
    assert rest.amount == 700
    assert charged.amount_refunded == stripe_refunded(charged) == AMOUNT
    assert charged.is_refunded
    assert len(stripe_refunds(charged)) == 2


def test_the_next_refund_settles_a_lost_one_first(charged: StripeCharge, proxy: FaultProxy) -> None:
    proxy.queue_fault("drop_after", method="POST", path="/v1/refunds")
    with pytest.raises(errors.OutcomeUnknownError):
        charged.refund(800)

    # Without asking Stripe, 300 would seem to remain; it knows that only 200 does.
    with pytest.raises(errors.ChargeStateError, match="only 200"):
        charged.refund(300)

    [lost] = our_refunds(charged.id)
    assert lost.status == RefundStatus.SUCCEEDED
    assert charged.amount_refunded == 800
    second = charged.refund()
    assert second.amount == 200
    assert sorted(item["amount"] for item in stripe_refunds(charged)) == [200, 800]
    assert proxy.counts["refund_refused"] == 0


def test_an_error_before_stripe_acted_is_unknown_and_settled_by_sending_it_once(
    charged: StripeCharge, proxy: FaultProxy
) -> None:
    proxy.queue_fault("fail_before", method="POST", path="/v1/refunds")
    with pytest.raises(errors.OutcomeUnknownError):
        charged.refund(250)
    [lost] = our_refunds(charged.id)
    assert lost.status == RefundStatus.UNKNOWN
    assert stripe_refunds(charged) == []

    assert settle_refunds(charged) == [lost]

    [made] = stripe_refunds(charged)
    assert (lost.status, lost.stripe_refund_id, made["amount"]) == (RefundStatus.SUCCEEDED, made["id"], 250)
    assert charged.amount_refunded == 250


def test_a_refund_left_unsent_by_a_killed_process_is_sent_with_its_own_key(charged: StripeCharge) -> None:
    db = hostapp.db
    # A process claimed the refunds, stored its row and key, and was killed; its lease has run out.
    orphan = StripeRefund(
        charge_id=charged.id,
        amount=100,
        currency="usd",
        status=RefundStatus.PENDING,
        idempotency_key=get_state().gateway.new_idempotency_key("refund", "create"),
    )
    db.session.add(orphan)
    charged.refund_claimed_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()

    mine = charged.refund(400)

    assert (orphan.status, mine.status) == (RefundStatus.SUCCEEDED, RefundStatus.SUCCEEDED)
    assert sorted(item["amount"] for item in stripe_refunds(charged)) == [100, 400]
    assert charged.amount_refunded == stripe_refunded(charged) == 500


def test_a_refund_while_another_is_in_flight_waits_then_fails_clearly(
    charged: StripeCharge, stripe_http: ValidatingHTTPClient
) -> None:
    assert claim_refunds(charged) is not None  # another process is refunding this charge
    stripe_http.clear()

    with pytest.raises(errors.ChargeStateError, match=r"Another refund of charge \d+ is being made"):
        charged.refund(100, wait=0)

    assert not stripe_http.requests
    assert our_refunds(charged.id) == []


def test_a_refusal_by_stripe_fails_the_refund_and_takes_stripes_figure(
    stub_app: Flask, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    db = hostapp.db
    user = hostapp.User(email="grace@example.com")
    db.session.add(user)
    db.session.commit()
    row = StripeCharge(
        subscriber_id=user.id,
        amount=AMOUNT,
        currency="usd",
        status="succeeded",
        is_charged=True,
        stripe_charge_id="ch_raced",
    )
    db.session.add(row)
    db.session.commit()
    # Someone refunds 600 in the Dashboard between our read of the charge and our refund.
    figures = iter([0, 600])
    stub.on(
        "GET",
        "/v1/charges/{charge}",
        lambda params, _: (200, {"id": "ch_raced", "object": "charge", "amount_refunded": next(figures)}),
    )
    message = "Refund amount ($5.00) is greater than unrefunded amount on charge ($4.00)"
    stub.on("POST", "/v1/refunds", lambda params, _: stripe_error(400, message, param="amount"))

    with pytest.raises(errors.InvalidRequestError):
        row.refund(500)

    [failed] = our_refunds(row.id)
    assert failed.status == RefundStatus.FAILED
    assert row.amount_refunded == 600
    assert row.refund_claimed_until is None
    assert [request.method for request in stripe_http.requests] == ["GET", "POST", "GET"]

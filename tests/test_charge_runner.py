"""``flask stripe charge`` in-process: what it takes, what it reports, claims, leases, 429s and lost answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.charges.runner import claim_batch, run_charges
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeCustomer, utcnow
from tests import hostapp
from tests.factories.apps import make_user
from tests.factories.cards import DECLINED_ON_CHARGE
from tests.factories.charges import customer_with, intents_for, new_charge
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import Answer, StripeStub, stripe_error


def test_charge_command_takes_what_is_due_and_reports_errors(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    due = [new_charge(db, user, amount=1000 + i) for i in range(3)]
    manual = new_charge(db, user, is_manual_charge=True)
    declined_before = new_charge(db, user, status=ChargeStatus.FAILED, charge_attempt_failed=True)
    charged = new_charge(db, user, status=ChargeStatus.SUCCEEDED, is_charged=True)
    declining = make_user(db, "decline@example.com")
    customer_with(declining, DECLINED_ON_CHARGE)
    will_decline = new_charge(db, declining)
    nobody = make_user(db, "nocard@example.com")
    no_customer = new_charge(db, nobody)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["stripe", "charge", "--dry-run"])
    assert listed.exit_code == 0
    assert [line.split(":")[0] for line in listed.output.splitlines()[:-1]] == [
        f"charge {row.id}" for row in [*due, will_decline, no_customer]
    ]
    assert "Would charge 5 charge(s)." in listed.output
    assert db.session.scalar(sa.select(sa.func.count()).where(StripeCharge.status == ChargeStatus.IN_FLIGHT)) == 0

    result = runner.invoke(args=["stripe", "charge"])

    assert result.exit_code == 1
    assert "Charged 3 of 5 charge(s): 1 declined, 0 need customer action, 0 processing, 1 error(s)." in result.output
    assert f"charge {no_customer.id}: NoCustomerError" in result.output
    db.session.expire_all()
    assert all(row.status == ChargeStatus.SUCCEEDED for row in due)
    assert will_decline.status == ChargeStatus.FAILED
    assert (no_customer.status, no_customer.failure_code) == (ChargeStatus.PENDING, "no_customer")
    for untouched in (manual, declined_before, charged):
        assert untouched.attempts == 0
        assert intents_for(untouched.id) == []
    for row in due:
        assert len(intents_for(row.id)) == 1

    again = runner.invoke(args=["stripe", "charge"])  # only the charge without a customer is left, still reported
    assert "Charged 0 of 1 charge(s)" in again.output
    assert again.exit_code == 1


def test_claims_are_exclusive_and_leases_run_out(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    rows = [new_charge(db, user) for _ in range(6)]

    first = claim_batch("runner-a", 4)
    second = claim_batch("runner-b", 4)

    assert first == [row.id for row in rows[:4]]
    assert second == [row.id for row in rows[4:]]
    assert claim_batch("runner-c", 4) == []
    # runner-a dies: once its lease has run out, its charges are taken again (and only then).
    db.session.execute(
        sa.update(StripeCharge)
        .where(StripeCharge.id.in_(first))
        .values(claimed_until=utcnow() - dt.timedelta(seconds=1), idempotency_key="key-from-runner-a")
    )
    db.session.commit()
    assert claim_batch("runner-c", 10) == first
    db.session.expire_all()
    assert {row.claimed_by for row in rows[:4]} == {"runner-c"}
    assert {row.idempotency_key for row in rows[:4]} == {"key-from-runner-a"}  # kept: it will be replayed
    assert {row.attempts for row in rows[:4]} == {2}


# -- against the stub (``stub``/``stub_app`` in conftest): 429s and lost answers ------------------------------


def stub_charges(count: int) -> list[StripeCharge]:
    db = hostapp.db
    user = make_user(db, "stub@example.com")
    db.session.add(
        StripeCustomer(
            subscriber_id=user.id, stripe_customer_id="cus_s", default_source="pm_s", is_created_at_stripe=True
        )
    )
    rows = [StripeCharge(subscriber_id=user.id, amount=900, currency="usd") for _ in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def succeed(stub: StripeStub, params: dict[str, Any]) -> Answer:
    obj = stub.store.create("payment_intent", params)
    obj.update(status="succeeded", latest_charge=f"ch_{obj['id']}", last_payment_error=None)
    return 200, obj


def test_rate_limited_charges_are_tried_again_later_in_the_run(
    stub: StripeStub, stub_app: Flask, stripe_http: ValidatingHTTPClient
) -> None:
    rows = stub_charges(3)
    seen: dict[str, int] = {}

    def sometimes_429(params: dict[str, Any], stored: Any) -> Answer:
        key = params["metadata"]["charge_id"]
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= 2:
            return stripe_error(429, "Too many requests", kind="rate_limit_error")
        return succeed(stub, params)

    stub.on("POST", "/v1/payment_intents", sometimes_429)
    pauses: list[float] = []

    summary = run_charges(workers=2, sleep=pauses.append)

    assert summary.succeeded == 3
    assert not summary.failures
    assert sorted(pauses) == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]  # backing off, doubling
    for row in rows:
        hostapp.db.session.refresh(row)
        keys = {
            request.idempotency_key
            for request in stripe_http.requests
            if request.params.get("metadata", {}).get("charge_id") == str(row.id)
        }
        assert keys == {row.idempotency_key}


def test_a_lost_answer_is_reported_then_resolved_by_the_next_run_with_the_same_key(
    stub: StripeStub, stub_app: Flask, stripe_http: ValidatingHTTPClient
) -> None:
    (row,) = stub_charges(1)
    outage = {"on": True}

    def flaky(params: dict[str, Any], stored: Any) -> Answer:
        if outage["on"]:
            return stripe_error(502, "Bad gateway", kind="api_error")
        return succeed(stub, params)

    stub.on("POST", "/v1/payment_intents", flaky)
    runner = stub_app.test_cli_runner()

    first = runner.invoke(args=["stripe", "charge"])

    assert first.exit_code == 1
    assert f"charge {row.id}: OutcomeUnknownError" in first.output
    hostapp.db.session.refresh(row)
    assert row.status == ChargeStatus.UNKNOWN
    assert not row.charge_attempt_failed
    outage["on"] = False

    second = runner.invoke(args=["stripe", "charge"])

    assert second.exit_code == 0, second.output
    hostapp.db.session.refresh(row)
    assert row.status == ChargeStatus.SUCCEEDED
    keys = [
        request.idempotency_key for request in stripe_http.requests if request.templated_path == "/v1/payment_intents"
    ]
    assert keys == [row.idempotency_key] * 4  # three tries in the first run, one in the second: one key


def test_dry_run_shows_money_and_who_pays(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    other = make_user(db, "bob@example.com")
    rows = [
        StripeCharge(subscriber_id=user.id, amount=1000, currency="usd"),
        StripeCharge(subscriber_id=other.id, amount=500, currency="jpy"),
        StripeCharge(
            subscriber_id=other.id,
            amount=123456,
            currency="eur",
            status=ChargeStatus.UNKNOWN,
            idempotency_key="charge-3-key",
        ),
        StripeCharge(subscriber_id=None, amount=1999, currency="pln"),
    ]
    db.session.add_all(rows)
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["stripe", "charge", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"charge {rows[0].id}: $10.00 from {user.email} (subscriber {user.id}), pending",
        f"charge {rows[1].id}: ¥500 from bob@example.com (subscriber {other.id}), pending",
        f"charge {rows[2].id}: €1,234.56 from bob@example.com (subscriber {other.id}), unknown; "
        "replays key charge-3-key",
        f"charge {rows[3].id}: 19.99 PLN from no subscriber, pending",
        "Would charge 4 charge(s).",
    ]

"""Real ``flask stripe charge`` processes against the offline Stripe behind the fault-injecting proxy.

Each test ends with the same check, made at the Stripe server: every charge row has exactly one PaymentIntent
(found by the ``charge_id`` in its metadata), every row is ``succeeded`` with that PaymentIntent's id, and none
is marked failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_stripe_billing.charges.runner import chargeable
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import ChargeStatus, StripeCharge, utcnow
from flask_stripe_billing.offline import OFFLINE_API_KEY, OfflineStripe
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.apps import running_app
from tests.factories.cards import make_payment_method
from tests.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
CHARGES = 300

pytestmark = pytest.mark.slow


@pytest.fixture
def setup_app(scratch_database: str, offline_stripe: OfflineStripe) -> Iterator[Flask]:
    """An app on the test's database, talking to the offline Stripe directly (no faults), for setup and checks."""
    config = {
        "SQLALCHEMY_DATABASE_URI": scratch_database,
        "STRIPE_API_KEY": OFFLINE_API_KEY,
        "STRIPE_API_BASE": offline_stripe.url,
        "STRIPE_REQUESTS_PER_SECOND": 1000,
    }
    with running_app(config) as application:
        yield application


def pending_charges(count: int = CHARGES) -> list[int]:
    """*count* pending charges spread over three subscribers, a card each (payment methods and a card source)."""
    db = hostapp.db
    users = [hostapp.User(email=f"payer{i}@example.com") for i in range(3)]
    db.session.add_all(users)
    db.session.commit()
    for i, user in enumerate(users):
        create_customer(user, create_card_token() if i == 2 else make_payment_method())
    rows = [
        StripeCharge(subscriber_id=users[i % 3].id, amount=100 + i, currency="usd", description=None)
        for i in range(count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    ids = [row.id for row in rows]
    db.session.remove()
    return ids


def start_run(database: str, proxy: FaultProxy, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FLASK_APP": "tests.charge_host:create_app",
        "DATABASE_URL": database,
        "STRIPE_API_BASE": proxy.url,
        "STRIPE_REQUESTS_PER_SECOND": "1000",
        "STRIPE_MAX_NETWORK_RETRIES": "1",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "stripe", "charge", "--workers", "4", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=300)
    # 0, or 1 when some charge hit an error (reported, to be taken by the next run); never a crash.
    assert process.returncode in (0, 1), output
    assert "Traceback" not in output, output
    return output


def taken(output: str) -> int:
    """How many charges a run took, from its summary line ``Charged S of T charge(s): ...``."""
    for line in output.splitlines():
        if line.startswith("Charged "):
            return int(line.split()[3])
    raise AssertionError(output)


def still_chargeable() -> int:
    session = hostapp.db.session
    session.remove()
    return int(session.scalar(sa.select(sa.func.count()).select_from(StripeCharge).where(chargeable(utcnow()))) or 0)


def run_until_done(database: str, proxy: FaultProxy, *args: str, max_runs: int = 25) -> int:
    """Run ``flask stripe charge`` again and again until nothing is left to take; return how many runs."""
    for run in range(1, max_runs + 1):
        finish(start_run(database, proxy, *args))
        if still_chargeable() == 0:
            return run
    raise AssertionError(f"charges still pending after {max_runs} runs")


def assert_charged_exactly_once(ids: list[int]) -> None:
    intents = list(get_state().gateway.list_all("/v1/payment_intents"))
    per_row = Counter(intent["metadata"].get("charge_id") for intent in intents)
    assert {row_id: per_row[str(row_id)] for row_id in ids} == dict.fromkeys(ids, 1)
    assert len(intents) == len(ids)
    by_row = {intent["metadata"]["charge_id"]: intent for intent in intents}
    session = hostapp.db.session
    session.remove()
    rows = list(session.scalars(sa.select(StripeCharge).order_by(StripeCharge.id)))
    assert Counter(row.status for row in rows) == {ChargeStatus.SUCCEEDED: len(ids)}
    assert not any(row.charge_attempt_failed for row in rows)
    for row in rows:
        assert row.is_charged
        assert row.stripe_payment_intent_id == by_row[str(row.id)]["id"]
        assert by_row[str(row.id)]["status"] == "succeeded"


def test_overlapping_runs_charge_each_charge_once(
    setup_app: Flask, scratch_database: str, offline_stripe: OfflineStripe
) -> None:
    ids = pending_charges()
    with FaultProxy(offline_stripe.url, latency=0.02) as proxy:
        first = start_run(scratch_database, proxy)
        second = start_run(scratch_database, proxy)
        outputs = [finish(first), finish(second)]
        # Every charge was taken by one of the two runs (one may have released a charge the other then took).
        assert sum(taken(output) for output in outputs) >= CHARGES
        if still_chargeable():
            run_until_done(scratch_database, proxy)
        assert not proxy.violations
    assert_charged_exactly_once(ids)


def test_thirty_percent_faults_then_repeated_runs_charge_each_charge_once(
    setup_app: Flask, scratch_database: str, offline_stripe: OfflineStripe
) -> None:
    ids = pending_charges()
    with FaultProxy(offline_stripe.url, seed=30, fail_before=0.14, drop_after=0.13, rate_limited=0.03) as proxy:
        run_until_done(scratch_database, proxy, "--workers", "8")
        assert proxy.counts["fail_before"] > 0
        assert proxy.counts["drop_after"] > 0
        assert proxy.counts["rate_limited"] > 0
        assert proxy.counts["replayed"] > 0  # lost answers were learnt by replaying their key
        assert not proxy.violations
    assert_charged_exactly_once(ids)


def test_a_run_killed_mid_way_then_a_new_run_charge_each_charge_once(
    setup_app: Flask, scratch_database: str, offline_stripe: OfflineStripe
) -> None:
    ids = pending_charges()
    with FaultProxy(offline_stripe.url, seed=9, drop_after=0.1, latency=0.05) as proxy:
        victim = start_run(scratch_database, proxy, "--claim-timeout", "2")
        deadline = time.monotonic() + 120
        while _count(StripeCharge.status == ChargeStatus.SUCCEEDED) < 40:
            assert victim.poll() is None, victim.communicate()[0]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert _count(StripeCharge.status == ChargeStatus.IN_FLIGHT) > 0  # killed holding claims
        time.sleep(2.5)  # their lease runs out; the next run takes them and replays their keys
        run_until_done(scratch_database, proxy)
        assert not proxy.violations
    assert_charged_exactly_once(ids)


def _count(*conditions: Any) -> int:
    session = hostapp.db.session
    session.remove()
    return int(session.scalar(sa.select(sa.func.count()).select_from(StripeCharge).where(*conditions)) or 0)

"""Charge throughput: ``flask stripe charge`` against its configured ceiling and a one-at-a-time loop.

    python bench/charge_throughput.py [--charges 2000] [--latency 0.15] [--rate 20] [--baseline-charges 100]

The offline Stripe (localstripe) runs behind the test suite's proxy (``tests/fault_proxy.py``, no faults), which
adds *latency* seconds to every request, as a distant Stripe would.  Measured in the same run:

* ``flask stripe charge`` in its own process over *charges* pending charges, with
  ``STRIPE_REQUESTS_PER_SECOND`` = *rate* (the ceiling): charges per second, wall clock, process start included;
* the baseline: the same charges made one at a time with a 0.25 s pause after each (how the Django package's
  cron command paces itself), over *baseline-charges* charges.

SQLite by default; PostgreSQL when ``BENCH_POSTGRES_URL`` (or ``TEST_POSTGRES_URL``) is set.  The run ends by
checking at the Stripe server that every charge row has exactly one PaymentIntent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from flask_stripe_billing.charges.send import charge  # noqa: E402
from flask_stripe_billing.core.state import get_state  # noqa: E402
from flask_stripe_billing.customers.verbs import create_customer  # noqa: E402
from flask_stripe_billing.models import ChargeStatus, StripeCharge  # noqa: E402
from flask_stripe_billing.offline import OFFLINE_API_KEY, OfflineStripe  # noqa: E402
from tests import hostapp  # noqa: E402
from tests.fault_proxy import FaultProxy  # noqa: E402

PAUSE = 0.25


def add_charges(count: int, users: list[int]) -> list[int]:
    rows = [StripeCharge(subscriber_id=users[i % len(users)], amount=500 + i, currency="usd") for i in range(count)]
    hostapp.db.session.add_all(rows)
    hostapp.db.session.commit()
    return [row.id for row in rows]


def make_payers(count: int = 3) -> list[int]:
    gateway = get_state().gateway
    users = [hostapp.User(email=f"bench{i}@example.com") for i in range(count)]
    hostapp.db.session.add_all(users)
    hostapp.db.session.commit()
    for user in users:
        method = gateway.request(
            "post",
            "/v1/payment_methods",
            {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
            object_type="payment_method",
            action="create",
        )
        create_customer(user, method["id"])
    return [user.id for user in users]


def run_command(database: str, proxy: FaultProxy, rate: float) -> float:
    """Seconds taken by one ``flask stripe charge`` process."""
    env = {
        **os.environ,
        "FLASK_APP": "tests.charge_host:create_app",
        "DATABASE_URL": database,
        "STRIPE_API_BASE": proxy.url,
        "STRIPE_REQUESTS_PER_SECOND": str(rate),
        "STRIPE_MAX_NETWORK_RETRIES": "2",
        "PYTHONPATH": str(ROOT),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flask", "stripe", "charge"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"flask stripe charge failed:\n{result.stdout}{result.stderr}")
    print(f"  {result.stdout.strip().splitlines()[-1]}")
    return elapsed


def one_at_a_time(ids: list[int]) -> float:
    """Seconds taken charging *ids* one after the other, pausing after each."""
    session = hostapp.db.session
    started = time.perf_counter()
    for charge_id in ids:
        row = session.get(StripeCharge, charge_id)
        assert row is not None
        charge(row)
        time.sleep(PAUSE)
    return time.perf_counter() - started


def check_exactly_once(ids: list[int]) -> None:
    intents = list(get_state().gateway.list_all("/v1/payment_intents"))
    per_row = Counter(intent["metadata"].get("charge_id") for intent in intents)
    assert all(per_row[str(charge_id)] == 1 for charge_id in ids), "a charge has no PaymentIntent, or several"
    assert len(intents) == len(ids), "PaymentIntents without a charge row"
    session = hostapp.db.session
    session.expire_all()
    statuses = Counter(session.scalars(sa.select(StripeCharge.status)))
    assert statuses == {ChargeStatus.SUCCEEDED: len(ids)}, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charges", type=int, default=2000, help="pending charges for flask stripe charge")
    parser.add_argument("--baseline-charges", type=int, default=100, help="charges for the one-at-a-time loop")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds added to every Stripe request")
    parser.add_argument("--rate", type=float, default=20.0, help="STRIPE_REQUESTS_PER_SECOND (the ceiling)")
    args = parser.parse_args()
    database = (
        os.environ.get("BENCH_POSTGRES_URL")
        or os.environ.get("TEST_POSTGRES_URL")
        or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    )
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), {sa.make_url(database).get_backend_name()}")
    print(f"{args.latency * 1000:.0f} ms added to every request; ceiling STRIPE_REQUESTS_PER_SECOND={args.rate:g}")
    with OfflineStripe() as offline, FaultProxy(offline.url, latency=args.latency) as proxy:
        config = {
            "SQLALCHEMY_DATABASE_URI": database,
            "STRIPE_API_KEY": OFFLINE_API_KEY,
            "STRIPE_API_BASE": offline.url,
            "STRIPE_REQUESTS_PER_SECOND": 1000,
        }
        app = hostapp.create_app(config)
        with app.app_context():
            hostapp.db.drop_all()
            hostapp.db.create_all()
            users = make_payers()
            ids = add_charges(args.charges, users)
            hostapp.db.session.remove()

            ours = args.charges / run_command(database, proxy, args.rate)

            baseline_ids = add_charges(args.baseline_charges, users)
            baseline_app = hostapp.create_app({**config, "STRIPE_API_BASE": proxy.url})
            with baseline_app.app_context():
                base = args.baseline_charges / one_at_a_time(baseline_ids)
                hostapp.db.session.remove()

            check_exactly_once(ids + baseline_ids)
    print(
        f"flask stripe charge   {ours:6.2f} charges/s over {args.charges} = {ours / args.rate:.0%} of the ceiling "
        f"({args.rate:g}/s)"
    )
    print(f"one at a time + {PAUSE}s  {base:6.2f} charges/s over {args.baseline_charges}")
    print(f"ratio                 {ours / base:6.2f}")


if __name__ == "__main__":
    main()

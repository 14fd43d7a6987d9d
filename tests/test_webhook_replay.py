"""``flask stripe replay-webhooks``, concurrent redeliveries, and fuzzed requests."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_stripe_billing.models import StripeCustomer, StripeWebhook, WebhookStatus, from_timestamp, utcnow
from flask_stripe_billing.signals import webhook_post_parse
from flask_stripe_billing.testing import make_event
from flask_stripe_billing.webhooks import handles
from flask_stripe_billing.webhooks.registry import unregister
from tests import synthetic_events as synthetic
from tests.factories.webhooks import URL, deliver, event, signed_headers, stored
from tests.hostapp import User


def store(
    db: SQLAlchemy, event_id: str, status: str, received_minutes_ago: int = 0, created: int = 1_700_000_000
) -> None:
    db.session.add(
        StripeWebhook(
            id=event_id,
            type="ping",
            raw_data=event(event_id),
            status=status,
            received_at=utcnow() - dt.timedelta(minutes=received_minutes_ago),
            event_created=dt.datetime.fromtimestamp(created, dt.UTC),
        )
    )
    db.session.commit()


def replay(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["stripe", "replay-webhooks", *args])


def test_replay_failed_takes_failed_and_lost_events(app: Flask, db: SQLAlchemy) -> None:
    store(db, "evt_failed", WebhookStatus.FAILED)
    store(db, "evt_lost", WebhookStatus.RECEIVED, received_minutes_ago=10)
    store(db, "evt_fresh", WebhookStatus.RECEIVED)
    store(db, "evt_done", WebhookStatus.PROCESSED)
    result = replay(app, "--failed")
    assert result.exit_code == 0, result.output
    assert "Replayed 2 event(s): 2 processed, 0 failed." in result.output
    statuses = {hook.id: hook.status for hook in stored(db)}
    assert statuses == {
        "evt_failed": "processed",
        "evt_lost": "processed",
        "evt_fresh": "received",
        "evt_done": "processed",
    }


def test_replay_by_id_forces_and_reports_failures(app: Flask, db: SQLAlchemy) -> None:
    store(db, "evt_done", WebhookStatus.PROCESSED)
    seen: list[str] = []

    @handles("ping")
    def failing(webhook: StripeWebhook) -> None:
        seen.append(webhook.id)
        raise RuntimeError("still broken")

    try:
        result = replay(app, "--id", "evt_done", "--id", "evt_unknown")
    finally:
        unregister(failing)
    assert result.exit_code == 1
    assert seen == ["evt_done"]
    assert "evt_unknown: not stored" in result.output
    assert "evt_done: failed: RuntimeError: still broken" in result.output
    assert "Replayed 1 event(s): 0 processed, 1 failed." in result.output


def test_replay_since(app: Flask, db: SQLAlchemy) -> None:
    store(db, "evt_old", WebhookStatus.PROCESSED, created=1_600_000_000)
    store(db, "evt_new", WebhookStatus.PROCESSED, created=1_800_000_000)
    result = replay(app, "--since", "2025-01-01")
    assert "Replayed 1 event(s)" in result.output


@pytest.mark.slow
def test_concurrent_redeliveries_are_processed_exactly_once(app: Flask, db: SQLAlchemy) -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL or MariaDB (SQLite serialises them: 'database is locked')")
    processed: list[str] = []

    def count(sender: Any, **kwargs: Any) -> None:
        processed.append(kwargs["event_type"] + ":" + kwargs["instance"].id)

    bodies = [json.dumps(event(f"evt_{n:04d}")).encode() for n in range(300)]
    deliveries = bodies * 3
    random.Random(7).shuffle(deliveries)

    def send(body: bytes) -> int:
        with app.test_client() as client:
            response = client.post(URL, data=body, headers=signed_headers(body))
            response.close()
            return response.status_code

    webhook_post_parse.connect(count)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(send, deliveries))
    finally:
        webhook_post_parse.disconnect(count)
    assert set(statuses) == {200}
    assert len(processed) == 300
    assert len(set(processed)) == 300
    hooks = stored(db)
    assert len(hooks) == 300
    assert {hook.status for hook in hooks} == {WebhookStatus.PROCESSED}
    assert {hook.attempts for hook in hooks} == {1}


@pytest.mark.slow
def test_concurrent_customer_updates_end_with_the_newest_event(app: Flask, db: SQLAlchemy) -> None:
    """Several versions of several customers, each delivered three times in shuffled order from 8 threads:
    every event is processed once and each row ends with the newest version's data."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL or MariaDB (SQLite serialises them: 'database is locked')")
    customers, versions, base = 6, 10, int(time.time()) - 600
    for n in range(customers):
        user = User(email=f"user{n}@example.com")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            StripeCustomer(subscriber_id=user.id, stripe_customer_id=f"cus_{n:03d}", is_created_at_stripe=True)
        )
    db.session.commit()

    def version(n: int, v: int) -> bytes:
        card = synthetic.card("old", f"card_{n:03d}_{v}", f"cus_{n:03d}", last4=f"{v:04d}")
        data = synthetic.customer("old", f"cus_{n:03d}", [card], card["id"], email=f"v{v}@example.com")
        return json.dumps(make_event("customer.updated", data, created=base + v, event_id=f"evt_{n:03d}_{v}")).encode()

    deliveries = [version(n, v) for n in range(customers) for v in range(versions)] * 3
    random.Random(11).shuffle(deliveries)

    def send(body: bytes) -> int:
        with app.test_client() as client:
            response = client.post(URL, data=body, headers=signed_headers(body))
            response.close()
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, deliveries))

    assert set(statuses) == {200}
    hooks = stored(db)
    assert len(hooks) == customers * versions
    assert {(hook.status, hook.attempts) for hook in hooks} == {(WebhookStatus.PROCESSED, 1)}
    newest = versions - 1
    rows = db.session.scalars(sa.select(StripeCustomer).order_by(StripeCustomer.stripe_customer_id)).all()
    assert [
        (
            row.default_source,
            [card["last4"] for card in row.sources],
            row.stripe_response["email"],
            row.stripe_synced_at,
        )
        for row in rows
    ] == [
        (f"card_{n:03d}_{newest}", [f"{newest:04d}"], f"v{newest}@example.com", from_timestamp(base + newest))
        for n in range(customers)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Header values a client can send (an HTTP client refuses control characters before they reach us).
    signature=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
        st.builds(lambda t: f"t={t},v1=" + "0" * 64, st.integers(0, 2**40)),
    ),
    body=st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda e: json.dumps(e).encode(),
            st.fixed_dictionaries({"id": st.text(max_size=20), "type": st.text(max_size=20)}),
        ),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
)
def test_fuzzed_requests_never_fail_with_5xx_nor_store_anything(
    client: FlaskClient, db: SQLAlchemy, signature: str | None, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    response = deliver(client, body, headers)
    assert 400 <= response.status_code < 500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeWebhook)) == 0


def test_signed_fuzz_like_body_is_stored_once(client: FlaskClient, db: SQLAlchemy) -> None:
    body = json.dumps(event("evt_signed", created=int(time.time()))).encode()
    assert deliver(client, body).status_code == 200
    assert len(stored(db)) == 1

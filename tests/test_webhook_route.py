"""The webhook route: verified, stored exactly once, answered, then processed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeWebhook, WebhookStatus
from flask_stripe_billing.signals import webhook_post_parse, webhook_pre_parse
from flask_stripe_billing.testing import SignalRecorder
from flask_stripe_billing.webhooks import handles, process_webhook
from flask_stripe_billing.webhooks.registry import unregister
from tests import hostapp
from tests.factories.apps import running_app
from tests.factories.webhooks import URL, deliver, event, received_by_callback, signed_headers, stored


@pytest.fixture
def signals() -> Iterator[SignalRecorder]:
    """``webhook_pre_parse`` and ``webhook_post_parse``, as sent."""
    with SignalRecorder(webhook_pre_parse, webhook_post_parse) as recorded:
        yield recorded


def test_signed_event_is_stored_and_processed_after_the_answer(
    client: FlaskClient, db: SQLAlchemy, signals: SignalRecorder
) -> None:
    body = json.dumps(event("evt_ok", "customer.subscription.updated")).encode()
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert response.json == {"received": "evt_ok", "duplicate": False}
    (hook,) = stored(db)
    assert hook.status == WebhookStatus.RECEIVED  # answered before processing
    response.close()
    (hook,) = stored(db)
    assert (hook.status, hook.is_parsed, hook.attempts, hook.type) == (
        WebhookStatus.PROCESSED,
        True,
        1,
        "customer.subscription.updated",
    )
    assert hook.raw_data["id"] == "evt_ok"
    assert hook.processed_at is not None
    assert hook.event_created is not None
    assert [(name, kw["event_model"], kw["event_action"]) for name, _, kw in signals.records] == [
        ("webhook-pre-parse", "customer.subscription", "updated"),
        ("webhook-post-parse", "customer.subscription", "updated"),
    ]


def test_ping_has_no_model_or_action(client: FlaskClient, db: SQLAlchemy, signals: SignalRecorder) -> None:
    deliver(client, json.dumps(event("evt_ping", "ping")).encode())
    assert [(kw["event_model"], kw["event_action"]) for _, _, kw in signals.records] == [(None, None), (None, None)]


def test_redelivery_is_acknowledged_and_not_processed_again(
    client: FlaskClient, db: SQLAlchemy, signals: SignalRecorder
) -> None:
    body = json.dumps(event("evt_dup")).encode()
    assert deliver(client, body).json["duplicate"] is False
    again = deliver(client, body)
    assert again.status_code == 200
    assert again.json == {"received": "evt_dup", "duplicate": True}
    assert len(stored(db)) == 1
    assert signals.names == ["webhook-pre-parse", "webhook-post-parse"]


def test_any_configured_secret_verifies(stripe_test_config: dict[str, Any], database_url: str) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url}
    with running_app({**config, "STRIPE_WEBHOOK_ENDPOINT_SECRET": ["whsec_old", "whsec_new"]}) as app:
        body = json.dumps(event("evt_rotated")).encode()
        assert deliver(app.test_client(), body, signed_headers(body, "whsec_new")).status_code == 200
        assert deliver(app.test_client(), body, signed_headers(body, "whsec_other")).status_code == 400


BODY = json.dumps(event("evt_bad")).encode()


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (BODY, {}, 400),
        (BODY, signed_headers(BODY, "whsec_wrong"), 400),
        (BODY + b"\n", signed_headers(BODY), 400),
        (BODY, signed_headers(BODY, timestamp=int(time.time()) - 3600), 400),
        (b"not json", signed_headers(b"not json"), 400),
        (b"\xff\xfe{}", signed_headers(b"\xff\xfe{}"), 400),
        (b"[1, 2]", signed_headers(b"[1, 2]"), 400),
        (b'{"id": "cus_1", "type": "ping"}', signed_headers(b'{"id": "cus_1", "type": "ping"}'), 400),
        (b'{"id": "evt_1"}', signed_headers(b'{"id": "evt_1"}'), 400),
        (b"x" * (600 * 1024), signed_headers(b"x" * (600 * 1024)), 413),
    ],
    ids=[
        "no-header",
        "wrong-secret",
        "body-changed",
        "stale",
        "not-json",
        "not-utf8",
        "not-object",
        "not-event-id",
        "no-type",
        "oversized",
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    client: FlaskClient, db: SQLAlchemy, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = deliver(client, body, headers)
    assert response.status_code == status
    assert "error" in response.json
    assert stored(db) == []


def test_fails_closed_without_a_secret(stripe_test_config: dict[str, Any], database_url: str) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_WEBHOOK_ENDPOINT_SECRET": None}
    with running_app(config) as app:
        body = json.dumps(event("evt_unconfigured")).encode()
        response = deliver(app.test_client(), body, signed_headers(body, ""))
        assert response.status_code == 503
        assert hostapp.db.session.scalars(sa.select(StripeWebhook)).all() == []


def test_only_post_and_no_login_needed(client: FlaskClient) -> None:
    assert client.get(URL).status_code == 405


def test_failing_handler_leaves_the_event_failed_then_replay_succeeds(client: FlaskClient, db: SQLAlchemy) -> None:
    calls: list[str] = []

    @handles("invoice.paid")
    def flaky(webhook: StripeWebhook) -> None:
        calls.append(webhook.id)
        if len(calls) == 1:
            raise RuntimeError("database of the host is down")

    try:
        deliver(client, json.dumps(event("evt_flaky", "invoice.paid")).encode())
        (hook,) = stored(db)
        assert (hook.status, hook.attempts, hook.is_parsed) == (WebhookStatus.FAILED, 1, False)
        assert hook.parse_error == "RuntimeError: database of the host is down"
        assert process_webhook("evt_flaky") is True
        (hook,) = stored(db)
        assert (hook.status, hook.attempts, hook.parse_error) == (WebhookStatus.PROCESSED, 2, None)
        assert process_webhook("evt_flaky") is True  # already processed: left alone
        assert calls == ["evt_flaky", "evt_flaky"]
    finally:
        unregister(flaky)


def test_failing_listener_is_recorded_too(client: FlaskClient, db: SQLAlchemy) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("listener bug")

    webhook_pre_parse.connect(broken)
    try:
        deliver(client, json.dumps(event("evt_listener")).encode())
    finally:
        webhook_pre_parse.disconnect(broken)
    (hook,) = stored(db)
    assert hook.status == WebhookStatus.FAILED
    assert hook.parse_error == "ValueError: listener bug"


def test_event_callback_receives_the_stored_event_instead_of_inline_processing(
    stripe_test_config: dict[str, Any], database_url: str
) -> None:
    config = {
        **stripe_test_config,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STRIPE_WEBHOOK_EVENT_CALLBACK": "tests.factories.webhooks:enqueue",
    }
    received_by_callback.clear()
    with running_app(config) as app:
        deliver(app.test_client(), json.dumps(event("evt_queued")).encode())
        assert received_by_callback == [("evt_queued", WebhookStatus.RECEIVED)]

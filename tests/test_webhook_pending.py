"""``flask stripe check-pending-webhooks``: Stripe's events that never arrived, e-mailed over real SMTP."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeWebhook, WebhookStatus
from flask_stripe_billing.offline import free_port
from tests.factories.apps import running_app
from tests.stripe_openapi.http_client import ValidatingHTTPClient


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def alerting_config(smtp: tuple[Inbox, int], stripe_test_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    return {
        **stripe_test_config,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STRIPE_ADMINS": ["ops@example.com", "cto@example.com"],
        "STRIPE_PENDING_WEBHOOKS_THRESHOLD": 1,
        "ENV_PREFIX": "staging",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp[1],
        "MAIL_DEFAULT_SENDER": "billing@example.com",
    }


@pytest.fixture
def alerting_app(
    alerting_config: dict[str, Any], stripe_http: ValidatingHTTPClient, offline_stripe: Any
) -> Iterator[Flask]:
    with running_app(alerting_config, http_client=stripe_http) as app:
        yield app


def make_events(app: Flask, count: int) -> list[str]:
    """Create customers at the offline Stripe; each creation makes a customer.created event there."""
    gateway = get_state(app).gateway
    for number in range(count):
        gateway.request(
            "post", "/v1/customers", {"email": f"{number}@example.com"}, idempotency_key=f"pending-{number}"
        )
    return [event["id"] for event in gateway.list_all("/v1/events", {"type": "customer.created"})]


def check(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["stripe", "check-pending-webhooks", "--site", "shop.example.com", *args])


def test_above_threshold_emails_admins_and_exits_1(alerting_app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    event_ids = make_events(alerting_app, 3)
    result = check(alerting_app)
    assert result.exit_code == 1, result.output
    assert "3 pending event(s) for shop.example.com" in result.output
    (message,) = inbox.messages
    assert inbox.recipients == [["ops@example.com", "cto@example.com"]]
    assert message["Subject"] == "[staging] 3 Stripe events pending for shop.example.com"
    assert message["From"] == "billing@example.com"
    body = message.get_content().replace("\r\n", "\n")
    assert "webhook endpoint of shop.example.com (staging); the threshold is 1." in body
    for event_id in event_ids:
        assert f"  {event_id}\n" in body
    assert "sk_test" not in body


def test_at_or_below_threshold_is_quiet(alerting_app: Flask, smtp: tuple[Inbox, int]) -> None:
    make_events(alerting_app, 1)
    result = check(alerting_app)
    assert result.exit_code == 0, result.output
    assert "1 pending event(s)" in result.output
    assert smtp[0].messages == []


def test_stored_events_are_not_pending(alerting_app: Flask, db: SQLAlchemy, smtp: tuple[Inbox, int]) -> None:
    make_events(alerting_app, 3)
    assert check(alerting_app, "--fetch").exit_code == 1  # three were pending: reported, then fetched
    stored = db.session.scalars(sa.select(StripeWebhook)).all()
    assert len(stored) == 3
    assert {hook.status for hook in stored} == {WebhookStatus.PROCESSED}
    assert {hook.type for hook in stored} == {"customer.created"}
    again = check(alerting_app)
    assert again.exit_code == 0, again.output
    assert "0 pending event(s) for shop.example.com." in again.output
    assert len(smtp[0].messages) == 1


def test_unreachable_smtp_server_is_an_error(
    alerting_config: dict[str, Any], stripe_http: ValidatingHTTPClient, offline_stripe: Any
) -> None:
    with running_app(
        {**alerting_config, "MAIL_PORT": free_port()}, http_client=stripe_http
    ) as app:  # nothing listens there
        make_events(app, 2)
        result = check(app)
        assert result.exit_code != 0
        assert isinstance(result.exception, OSError)

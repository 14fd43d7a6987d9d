"""Webhook requests made by hand, for what :func:`flask_stripe_billing.testing.send_webhook` does not send:
exact bodies, chosen ids, wrong or missing signatures, concurrent deliveries.

Events are signed with :func:`flask_stripe_billing.webhooks.verify.sign_payload` and the suite's signing secret,
the plugin's :data:`~flask_stripe_billing.testing.TEST_WEBHOOK_SECRET` (``stripe_test_config`` sets it).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
import stripe
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from werkzeug.test import TestResponse

from flask_stripe_billing.models import StripeWebhook
from flask_stripe_billing.testing import TEST_WEBHOOK_SECRET, make_event, send_webhook
from flask_stripe_billing.webhooks.verify import sign_payload

URL = "/billing/webhooks"
#: The suite's ``STRIPE_WEBHOOK_ENDPOINT_SECRET``.
SECRET = TEST_WEBHOOK_SECRET


def event(event_id: str = "evt_1", event_type: str = "ping", **extra: Any) -> dict[str, Any]:
    """An event with a chosen id (:func:`~flask_stripe_billing.testing.make_event` about an empty object);
    *extra* replaces top-level fields (``data``, ``created``...)."""
    return {**make_event(event_type, {}, event_id=event_id, api_version=stripe.api_version), **extra}


def signed_headers(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Stripe sends with *body*, signed with *secret* at *timestamp* (default: now)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Stripe-Signature": f"t={timestamp},v1={sign_payload(body, secret, timestamp)}",
        "Content-Type": "application/json",
    }


def deliver(client: FlaskClient, body: bytes, headers: dict[str, str] | None = None) -> Any:
    """POST *body* to the webhook route (signed, unless *headers* are given) and let it be processed."""
    response = client.post(URL, data=body, headers=signed_headers(body) if headers is None else headers)
    response.close()  # a real server closes the response once sent; processing runs then
    return response


def send_event(app_or_client: Flask | FlaskClient, event_type: str, obj: dict[str, Any], **kwargs: Any) -> TestResponse:
    """:func:`~flask_stripe_billing.testing.send_webhook`, checking that the route took the event."""
    response = send_webhook(app_or_client, event_type, obj, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def stored(db: SQLAlchemy) -> list[StripeWebhook]:
    """Every stored event, read afresh."""
    db.session.commit()  # a new transaction sees what other connections committed (MariaDB: REPEATABLE READ)
    return list(db.session.scalars(sa.select(StripeWebhook)))


#: What :func:`enqueue` received, as ``(event id, status)``.
received_by_callback: list[tuple[str, str]] = []


def enqueue(webhook: StripeWebhook) -> None:
    """A ``STRIPE_WEBHOOK_EVENT_CALLBACK`` (``"tests.factories.webhooks:enqueue"``) that only records."""
    received_by_callback.append((webhook.id, webhook.status))

"""Real deliveries: the offline Stripe (localstripe) signs and sends its events to the app served on a port."""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeWebhook, WebhookStatus
from flask_stripe_billing.offline import OfflineStripe
from tests.factories.webhooks import SECRET


def test_events_from_the_offline_stripe_are_verified_stored_and_processed(
    app: Flask, db: SQLAlchemy, served: str, offline_stripe: OfflineStripe
) -> None:
    offline_stripe.register_webhook(
        "suite", f"{served}/billing/webhooks", SECRET, events=["customer.created", "customer.updated"]
    )
    try:
        deliver_and_check(app, db, offline_stripe)
    finally:
        # localstripe cannot forget a webhook: point it at an event type that never happens.
        offline_stripe.register_webhook("suite", f"{served}/billing/webhooks", SECRET, events=["never.sent"])


def deliver_and_check(app: Flask, db: SQLAlchemy, offline_stripe: OfflineStripe) -> None:
    gateway = get_state(app).gateway
    customer = gateway.request("post", "/v1/customers", {"email": "live@example.com"}, idempotency_key="deliver-1")
    gateway.request("post", f"/v1/customers/{customer['id']}", {"description": "VIP"}, idempotency_key="deliver-2")

    deadline = time.monotonic() + 20  # localstripe waits a second before it sends
    hooks: list[StripeWebhook] = []
    while time.monotonic() < deadline:
        db.session.commit()  # a new transaction sees the route's commits (MariaDB: REPEATABLE READ)
        # Only this customer's events: localstripe also sends, to a webhook registered within a second of
        # their creation, the events of objects an earlier test created (it waits a second before sending).
        hooks = [
            hook
            for hook in db.session.scalars(sa.select(StripeWebhook).order_by(StripeWebhook.type))
            if hook.raw_data["data"]["object"].get("id") == customer["id"]
        ]
        if len(hooks) == 2 and all(hook.status == WebhookStatus.PROCESSED for hook in hooks):
            break
        time.sleep(0.2)
    assert [hook.type for hook in hooks] == ["customer.created", "customer.updated"]
    assert {hook.status for hook in hooks} == {WebhookStatus.PROCESSED}

"""Subscription events through the real webhook route: applied and announced after commit, never older over
newer; invoice events make us re-read the subscription."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    StripeCustomer,
    StripeSubscriptionPlan,
    SubscriptionStatus,
)
from flask_stripe_billing.subscriptions.verbs import subscribe
from flask_stripe_billing.webhooks.handlers.subscriptions import invoice_subscription_id
from tests import hostapp
from tests.factories.webhooks import send_event


def test_subscription_updated_event_is_applied_and_announced_after_commit(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    subscription_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    subscription_signals.clear()
    now = int(time.time())
    obj = {
        "id": subscription.stripe_subscription_id,
        "object": "subscription",
        "status": "past_due",
        "cancel_at_period_end": False,
        "items": {"data": [{"id": "si_1", "current_period_start": now, "current_period_end": now + 86400 * 30}]},
    }
    send_event(client, "customer.subscription.updated", obj, created=now + 5)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.PAST_DUE
    assert subscription.current_period_end == dt.datetime.fromtimestamp(now + 86400 * 30, dt.UTC)
    assert [(name, kwargs["committed"]) for name, kwargs in subscription_signals] == [("updated", "past_due")]

    # An older event does not overwrite newer state.
    send_event(client, "customer.subscription.updated", {**obj, "status": "active"}, created=now - 60)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.PAST_DUE

    send_event(client, "customer.subscription.deleted", {**obj, "status": "canceled", "ended_at": now}, created=now + 9)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert [name for name, _ in subscription_signals] == ["updated", "canceled"]


@pytest.mark.parametrize("shape", ["old", "new"])
def test_invoice_events_reread_the_subscription(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    shape: str,
) -> None:
    subscription = subscribe(user, plan)
    stripe_id = subscription.stripe_subscription_id
    # Changed at Stripe without an event reaching us; the invoice event makes us look.
    get_state().gateway.request(
        "post", f"/v1/subscriptions/{stripe_id}", {"cancel_at_period_end": True}, object_type="test", action="update"
    )
    if shape == "old":
        invoice = {"id": "in_1", "object": "invoice", "subscription": stripe_id}
    else:
        invoice = {
            "id": "in_1",
            "object": "invoice",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": stripe_id}},
        }
    send_event(client, "invoice.paid", invoice)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.CANCELING


def test_invoice_subscription_id_reads_every_shape() -> None:
    assert invoice_subscription_id({"subscription": "sub_old"}) == "sub_old"
    assert invoice_subscription_id({"subscription": {"id": "sub_expanded"}}) == "sub_expanded"
    new = {"parent": {"subscription_details": {"subscription": {"id": "sub_new"}}}, "subscription": None}
    assert invoice_subscription_id(new) == "sub_new"
    assert invoice_subscription_id({"parent": None}) is None

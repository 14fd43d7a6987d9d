"""Signals sent after a commit: a receiver that raises undoes nothing, fails nothing, and runs nothing twice.

Each signal is driven by the real verb or webhook against the offline Stripe, with a receiver that raises: the
committed change stays, the caller gets its usual result, the error is logged (and reported to Sentry when it
is initialised), and what the receiver left uncommitted is not saved by a later commit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
import sqlalchemy as sa
from blinker import Signal
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors, signals
from flask_stripe_billing.charges.refunds import refund
from flask_stripe_billing.charges.send import charge as charge_verb
from flask_stripe_billing.coupons.lookup import get_live_coupon
from flask_stripe_billing.coupons.verbs import create_coupon
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCharge,
    StripeCustomer,
    StripeSubscription,
    StripeWebhook,
    SubscriptionStatus,
    WebhookStatus,
)
from flask_stripe_billing.subscriptions.verbs import subscribe
from flask_stripe_billing.testing import create_card_token, make_event, send_webhook
from flask_stripe_billing.webhooks import handles
from flask_stripe_billing.webhooks.dispatch import process_webhook
from flask_stripe_billing.webhooks.registry import unregister
from flask_stripe_billing.webhooks.store import event_fields, store_event
from tests import hostapp
from tests.factories.cards import DECLINED_ON_CHARGE, GOOD_CARD, SCA_CARD, make_payment_method
from tests.factories.charges import new_charge
from tests.factories.subscriptions import created_plan


@contextlib.contextmanager
def raising_receiver(signal: Signal, *, leave_uncommitted: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Connect a receiver of *signal* that records its keyword arguments and raises; with *leave_uncommitted*
    it first adds a user to the session, as a receiver failing half-way through its own work would."""
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        if leave_uncommitted:
            hostapp.db.session.add(hostapp.User(email="half-done@example.com"))
            hostapp.db.session.flush()
        raise RuntimeError("the receiver is broken")

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def receiver_errors(caplog: pytest.LogCaptureFixture, signal: Signal) -> list[logging.LogRecord]:
    """The errors logged for a failed receiver of *signal*."""
    return [
        record
        for record in caplog.records
        if record.name == "flask_stripe_billing.signals"
        and record.levelno == logging.ERROR
        and repr(getattr(signal, "name", "")) in record.getMessage()
        and record.exc_info is not None
        and isinstance(record.exc_info[1], RuntimeError)
    ]


def half_done_users(db: SQLAlchemy) -> int:
    query = sa.select(sa.func.count()).select_from(hostapp.User).where(hostapp.User.email == "half-done@example.com")
    return int(db.session.scalar(query) or 0)


def replay_failed(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["stripe", "replay-webhooks", "--failed"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def committed_charge_status(db: SQLAlchemy, charge: StripeCharge) -> str:
    with db.engine.connect() as connection:
        query = sa.select(StripeCharge.status).where(StripeCharge.id == charge.id)
        return str(connection.execute(query).scalar_one())


# -- webhook_post_parse --------------------------------------------------------------------------------------


def test_a_raising_post_parse_receiver_leaves_the_event_processed_and_nothing_runs_twice(
    app: Flask, client: FlaskClient, db: SQLAlchemy, caplog: pytest.LogCaptureFixture
) -> None:
    side_effects: list[str] = []
    others: list[str] = []

    @handles("invoice.created")
    def count(webhook: StripeWebhook) -> None:
        side_effects.append(webhook.id)

    def healthy(sender: Any, **kwargs: Any) -> None:
        others.append(kwargs["instance"].id)

    caplog.set_level(logging.ERROR, logger="flask_stripe_billing")
    try:
        with raising_receiver(signals.webhook_post_parse) as calls, signals.webhook_post_parse.connected_to(healthy):
            response = send_webhook(client, "invoice.created", {"id": "in_1", "object": "invoice"}, event_id="evt_1")
        assert response.status_code == 200
        hook = db.session.get(StripeWebhook, "evt_1")
        assert hook is not None
        assert (hook.status, hook.attempts, hook.is_parsed, hook.parse_error) == (
            WebhookStatus.PROCESSED,
            1,
            True,
            None,
        )
        assert [kwargs["event_type"] for kwargs in calls] == ["invoice.created"]
        assert others == ["evt_1"]  # the other receivers were still called
        assert len(receiver_errors(caplog, signals.webhook_post_parse)) == 1

        assert "Replayed 0 event(s)" in replay_failed(app)
        assert side_effects == ["evt_1"]  # the handler ran once, and replay did not run it again
    finally:
        unregister(count)


def test_what_a_failed_post_parse_receiver_left_uncommitted_is_not_saved(
    app: Flask, db: SQLAlchemy, caplog: pytest.LogCaptureFixture
) -> None:
    store_event(db, event_fields(make_event("ping", {"object": "ping"}, event_id="evt_ping")))
    with raising_receiver(signals.webhook_post_parse, leave_uncommitted=True):
        assert process_webhook("evt_ping") is True
    db.session.commit()  # a later commit in the same session
    assert half_done_users(db) == 0
    assert db.session.get(StripeWebhook, "evt_ping").status == WebhookStatus.PROCESSED  # type: ignore[union-attr]
    assert len(receiver_errors(caplog, signals.webhook_post_parse)) == 1


def test_the_error_is_reported_to_sentry_when_it_is_initialised(
    app: Flask, db: SQLAlchemy, caplog: pytest.LogCaptureFixture
) -> None:
    envelopes: list[Any] = []

    class Collect(sentry_sdk.transport.Transport):
        def capture_envelope(self, envelope: Any) -> None:
            envelopes.append(envelope)

    scope = sentry_sdk.get_global_scope()
    previous = scope.client
    sentry_client = sentry_sdk.Client(
        dsn="https://key@sentry.invalid/1", transport=Collect(), default_integrations=False
    )
    scope.set_client(sentry_client)
    try:
        assert sentry_sdk.is_initialized()
        store_event(db, event_fields(make_event("ping", {"object": "ping"}, event_id="evt_sentry")))
        with raising_receiver(signals.webhook_post_parse):
            assert process_webhook("evt_sentry") is True
    finally:
        scope.set_client(previous)
        sentry_client.close()
    events = [item.payload.json for envelope in envelopes for item in envelope.items if item.type == "event"]
    assert len(events) == 1
    (exception,) = events[0]["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("RuntimeError", "the receiver is broken")


# -- signals queued by the built-in handlers -----------------------------------------------------------------


def test_a_raising_receiver_of_a_queued_signal_leaves_the_event_processed(
    app: Flask, client: FlaskClient, db: SQLAlchemy, caplog: pytest.LogCaptureFixture
) -> None:
    coupon = {"id": "DASH", "object": "coupon", "percent_off": 15.0, "duration": "once", "valid": True}
    with raising_receiver(signals.coupon_synced) as calls:
        send_webhook(client, "coupon.created", coupon, event_id="evt_coupon")
    assert [kwargs["action"] for kwargs in calls] == ["created"]
    assert db.session.get(StripeWebhook, "evt_coupon").status == WebhookStatus.PROCESSED  # type: ignore[union-attr]
    assert get_live_coupon("DASH") is not None
    assert len(receiver_errors(caplog, signals.coupon_synced)) == 1
    assert "Replayed 0 event(s)" in replay_failed(app)


def test_a_raising_subscription_updated_receiver_leaves_the_webhook_processed(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, caplog: pytest.LogCaptureFixture
) -> None:
    create_customer(user, create_card_token())
    subscription = subscribe(user, created_plan(db))
    obj = {"id": subscription.stripe_subscription_id, "object": "subscription", "status": "past_due"}
    with raising_receiver(signals.subscription_updated) as calls:
        send_webhook(client, "customer.subscription.updated", obj, event_id="evt_past_due")
    assert len(calls) == 1
    assert db.session.get(StripeWebhook, "evt_past_due").status == WebhookStatus.PROCESSED  # type: ignore[union-attr]
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.PAST_DUE
    assert len(receiver_errors(caplog, signals.subscription_updated)) == 1


# -- the verbs' signals --------------------------------------------------------------------------------------


def test_customer_created(app: Flask, db: SQLAlchemy, user: hostapp.User, caplog: pytest.LogCaptureFixture) -> None:
    with raising_receiver(signals.customer_created, leave_uncommitted=True) as calls:
        customer = create_customer(user, create_card_token())
    assert [kwargs["instance"] for kwargs in calls] == [customer]
    db.session.commit()
    assert half_done_users(db) == 0
    assert db.session.scalars(sa.select(StripeCustomer)).one().is_created_at_stripe
    assert len(receiver_errors(caplog, signals.customer_created)) == 1


def test_subscription_created_and_canceled(
    app: Flask, db: SQLAlchemy, user: hostapp.User, caplog: pytest.LogCaptureFixture
) -> None:
    create_customer(user, create_card_token())
    plan = created_plan(db)
    with raising_receiver(signals.subscription_created) as created:
        subscription = subscribe(user, plan)
    assert [kwargs["instance"] for kwargs in created] == [subscription]
    assert db.session.scalars(sa.select(StripeSubscription)).one().status == SubscriptionStatus.ACTIVE
    with raising_receiver(signals.subscription_canceled) as canceled:
        assert subscription.cancel(at_period_end=False) is subscription
    assert [kwargs["at_period_end"] for kwargs in canceled] == [False]
    db.session.expire_all()
    assert subscription.status == SubscriptionStatus.CANCELED
    assert len(receiver_errors(caplog, signals.subscription_created)) == 1
    assert len(receiver_errors(caplog, signals.subscription_canceled)) == 1


def test_subscription_updated_by_a_refresh(
    app: Flask, db: SQLAlchemy, user: hostapp.User, caplog: pytest.LogCaptureFixture
) -> None:
    create_customer(user, create_card_token())
    subscription = subscribe(user, created_plan(db))
    subscription.status = SubscriptionStatus.PAST_DUE  # behind Stripe, which has it active
    db.session.commit()
    with raising_receiver(signals.subscription_updated) as calls:
        assert subscription.refresh_from_stripe() is subscription
    assert len(calls) == 1
    db.session.expire_all()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert len(receiver_errors(caplog, signals.subscription_updated)) == 1


def test_coupon_synced(app: Flask, db: SQLAlchemy, caplog: pytest.LogCaptureFixture) -> None:
    with raising_receiver(signals.coupon_synced, leave_uncommitted=True) as calls:
        coupon = create_coupon(coupon_id="SAVE", percent_off=10)
    assert [kwargs["action"] for kwargs in calls] == ["created"]
    db.session.commit()
    assert half_done_users(db) == 0
    assert get_live_coupon("SAVE") is coupon
    assert len(receiver_errors(caplog, signals.coupon_synced)) == 1


def test_stripe_charge_succeeded_and_refunded(
    app: Flask, db: SQLAlchemy, user: hostapp.User, caplog: pytest.LogCaptureFixture
) -> None:
    create_customer(user, make_payment_method(GOOD_CARD))
    row = new_charge(db, user)
    with raising_receiver(signals.stripe_charge_succeeded) as succeeded:
        assert row.charge() is row
    assert len(succeeded) == 1
    assert committed_charge_status(db, row) == ChargeStatus.SUCCEEDED
    with raising_receiver(signals.stripe_charge_refunded) as refunded:
        made = refund(row)
    assert [kwargs["refund"] for kwargs in refunded] == [made]
    db.session.expire_all()
    assert row.is_refunded
    assert len(receiver_errors(caplog, signals.stripe_charge_succeeded)) == 1
    assert len(receiver_errors(caplog, signals.stripe_charge_refunded)) == 1


@pytest.mark.parametrize(
    ("card", "signal_name", "raised", "status"),
    [
        (DECLINED_ON_CHARGE, "stripe_charge_card_exception", errors.CardError, ChargeStatus.FAILED),
        (SCA_CARD, "payment_needs_action", errors.PaymentActionRequired, ChargeStatus.REQUIRES_ACTION),
    ],
)
def test_a_decline_or_a_needed_action_is_still_what_the_caller_gets(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    caplog: pytest.LogCaptureFixture,
    card: str,
    signal_name: str,
    raised: type[Exception],
    status: str,
) -> None:
    signal = getattr(signals, signal_name)
    create_customer(user, make_payment_method(card))
    row = new_charge(db, user)
    with raising_receiver(signal) as calls, pytest.raises(raised):
        charge_verb(row)
    assert len(calls) == 1
    assert committed_charge_status(db, row) == status
    assert len(receiver_errors(caplog, signal)) == 1

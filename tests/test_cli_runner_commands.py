"""Every ``flask stripe`` command through ``app.test_cli_runner()`` with no application context pushed.

``flask`` pushes one before it runs an application's command; ``test_cli_runner()`` does not, so each command
must push its own.
"""

from __future__ import annotations

import datetime as dt

from click.testing import Result
from flask import Flask, has_app_context

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeCharge, StripeIdempotencyKey, StripeWebhook, WebhookStatus, utcnow
from flask_stripe_billing.offline import OfflineStripe
from flask_stripe_billing.testing import make_event
from tests import hostapp


def run(app: Flask, *args: str) -> Result:
    assert not has_app_context()
    result = app.test_cli_runner().invoke(args=["stripe", *args])
    assert "application context" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_status(bare_app: Flask, offline_stripe: OfflineStripe) -> None:
    result = run(bare_app, "status")
    assert result.exit_code == 0, result.output
    assert f"Talks to:     offline Stripe at {offline_stripe.url}" in result.output
    assert "Stripe:       reachable" in result.output


def test_purge_idempotency_keys(bare_app: Flask) -> None:
    with bare_app.app_context():
        old = utcnow() - dt.timedelta(hours=30)
        hostapp.db.session.add(StripeIdempotencyKey(uuid="old", object_type="charge", action="create", created_at=old))
        hostapp.db.session.commit()
    result = run(bare_app, "purge-idempotency-keys")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 idempotency key record(s) older than 24 hour(s)." in result.output


def test_refresh_customers(bare_app: Flask) -> None:
    result = run(bare_app, "refresh-customers")
    assert result.exit_code == 0, result.output
    assert "Refreshed 0 customer(s): 0 updated, 0 unchanged, 0 missing at Stripe, 0 error(s)." in result.output


def test_end_subscriptions(bare_app: Flask) -> None:
    result = run(bare_app, "end-subscriptions", "--now")
    assert result.exit_code == 0, result.output
    assert "Ended 0 of 0 subscription(s) now; 0 failed." in result.output


def test_refresh_coupons(bare_app: Flask) -> None:
    with bare_app.app_context():  # the gateway stores the request's idempotency key
        get_state(bare_app).gateway.request(
            "post",
            "/v1/coupons",
            {"id": "SPRING", "percent_off": 10, "duration": "once"},
            object_type="coupon",
            action="create",
        )
    result = run(bare_app, "refresh-coupons")
    assert result.exit_code == 0, result.output
    assert "Coupons: 1 created, 0 updated, 0 deleted, 0 unchanged; 0 failed." in result.output


def test_replay_webhooks(bare_app: Flask) -> None:
    with bare_app.app_context():
        event = make_event("ping", {"id": "thing_1", "object": "thing"}, event_id="evt_replayed")
        hostapp.db.session.add(
            StripeWebhook(
                id="evt_replayed",
                type="ping",
                raw_data=event,
                status=WebhookStatus.FAILED,
                event_created=dt.datetime.fromtimestamp(event["created"], dt.UTC),
            )
        )
        hostapp.db.session.commit()
    result = run(bare_app, "replay-webhooks", "--id", "evt_replayed", "--id", "evt_never_stored")
    assert result.exit_code == 1, result.output
    assert "evt_never_stored: not stored" in result.output
    assert "Replayed 1 event(s): 1 processed, 0 failed." in result.output
    with bare_app.app_context():
        replayed = hostapp.db.session.get(StripeWebhook, "evt_replayed")
        assert replayed is not None
        assert replayed.status == WebhookStatus.PROCESSED


def test_check_pending_webhooks(bare_app: Flask) -> None:
    get_state(bare_app).gateway.request(
        "post", "/v1/customers", {"email": "pending@example.com"}, idempotency_key="pending-customer"
    )
    result = run(bare_app, "check-pending-webhooks", "--site", "shop.example.com")
    assert result.exit_code == 0, result.output
    assert "1 pending event(s) for shop.example.com: evt_" in result.output


def test_charge(bare_app: Flask) -> None:
    with bare_app.app_context():
        user = hostapp.User(email="ann@example.com")
        hostapp.db.session.add(user)
        hostapp.db.session.commit()
        hostapp.db.session.add(StripeCharge(subscriber_id=user.id, amount=1000, currency="usd"))
        hostapp.db.session.commit()
        user_id = user.id
    listed = run(bare_app, "charge", "--dry-run")
    assert listed.exit_code == 0, listed.output
    assert f"$10.00 from ann@example.com (subscriber {user_id}), pending" in listed.output
    assert "Would charge 1 charge(s)." in listed.output
    result = run(bare_app, "charge")
    assert result.exit_code == 1, result.output  # ann has no Stripe customer: an error, reported
    assert "Charged 0 of 1 charge(s)" in result.output
    assert "NoCustomerError" in result.output

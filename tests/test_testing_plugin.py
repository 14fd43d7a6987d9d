"""``flask_stripe_billing.testing``, used the way a host application's test suite uses it (through pytester)."""

from __future__ import annotations

import textwrap

import pytest

from flask_stripe_billing import signals
from flask_stripe_billing.testing import SignalRecorder, make_event

pytest_plugins = ["pytester"]

HOST_CONFTEST = """
import pytest
from flask import Flask
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling

pytest_plugins = ["flask_stripe_billing.testing"]

db = SQLAlchemy()


class User(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False)


@pytest.fixture
def app(stripe_test_config, tmp_path):
    app = Flask("shop")
    app.config.update(SECRET_KEY="test", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'shop.db'}")
    app.config.update(stripe_test_config)
    db.init_app(app)
    StripeBilling(app, db=db, subscriber_model=User)
    with app.app_context():
        db.create_all()
        yield app
"""

HOST_TESTS = """
from flask_stripe_billing import signals
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.testing import SignalRecorder, create_card_token, send_webhook

from conftest import User, db


def test_a_customer_deleted_in_the_dashboard_is_deactivated(app, billing_signals):
    user = User(email="ada@example.com")
    db.session.add(user)
    db.session.commit()
    customer = create_customer(user, create_card_token())
    assert billing_signals.names == ["customer-created"]

    response = send_webhook(app, "customer.deleted", {"id": customer.stripe_customer_id, "object": "customer"})

    assert response.status_code == 200
    assert not customer.is_active
    (processed,) = billing_signals.of(signals.webhook_post_parse)
    assert processed.kwargs["event_type"] == "customer.deleted"


def test_a_signal_recorder_in_a_with_block(app):
    with SignalRecorder(signals.webhook_pre_parse) as recorded:
        send_webhook(app.test_client(), "ping", {})
    (call,) = recorded.records
    assert call.sender.__name__ == "StripeWebhook"
    assert (call.kwargs["event_model"], call.kwargs["event_action"]) == (None, None)


def test_a_wrong_secret_is_refused(app):
    assert send_webhook(app, "ping", {}, secret="whsec_wrong").status_code == 400


def test_the_offline_stripe_is_emptied_before_each_test(app, offline_stripe):
    from flask_stripe_billing.core.state import get_state

    assert get_state().gateway.request("get", "/v1/customers")["data"] == []
"""


@pytest.mark.slow
@pytest.mark.parametrize("options", [(), ("-p", "no:flask")], ids=["with-pytest-flask", "without-pytest-flask"])
def test_a_host_suite_uses_the_plugin(pytester: pytest.Pytester, options: tuple[str, ...]) -> None:
    pytester.makeconftest(textwrap.dedent(HOST_CONFTEST))
    pytester.makepyfile(test_billing=textwrap.dedent(HOST_TESTS))
    # In a subprocess, like the host's own run, with warnings as errors.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *options)
    result.assert_outcomes(passed=4)


def test_make_event_is_shaped_like_a_stripe_event() -> None:
    event = make_event("customer.updated", {"id": "cus_1"}, created=1_700_000_000, previous_attributes={"email": None})
    assert event["id"].startswith("evt_")
    assert event["object"] == "event"
    assert (event["type"], event["created"]) == ("customer.updated", 1_700_000_000)
    assert event["data"] == {"object": {"id": "cus_1"}, "previous_attributes": {"email": None}}


def test_signal_recorder_keeps_sender_and_arguments_and_disconnects() -> None:
    with SignalRecorder() as recorded:
        signals.coupon_synced.send("sender", instance="coupon", action="created")
    signals.coupon_synced.send("sender", instance="coupon", action="deleted")  # after the block: not recorded
    assert recorded.names == ["coupon-synced"]
    (call,) = recorded.of(signals.coupon_synced)
    assert (call.sender, call.kwargs) == ("sender", {"instance": "coupon", "action": "created"})
    assert recorded.of(signals.customer_created) == []

"""The ``flask stripe`` command group."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeIdempotencyKey, utcnow
from flask_stripe_billing.offline import free_port
from tests import hostapp


def test_group_is_listed_with_its_commands(app: Flask) -> None:
    runner = app.test_cli_runner()
    top = runner.invoke(args=["--help"])
    assert "stripe" in top.output
    group = runner.invoke(args=["stripe", "--help"])
    assert group.exit_code == 0
    assert "purge-idempotency-keys" in group.output
    assert "status" in group.output


def test_commands_exist_without_the_blueprint() -> None:
    app = hostapp.create_app(
        {"STRIPE_API_KEY": "sk_test_1", "SQLALCHEMY_DATABASE_URI": "sqlite://"}, register_blueprint=False
    )
    assert app.test_cli_runner().invoke(args=["stripe", "--help"]).exit_code == 0


def test_purge_idempotency_keys(app: Flask, db: SQLAlchemy) -> None:
    db.session.add_all(
        [
            StripeIdempotencyKey(
                uuid="old", object_type="charge", action="create", created_at=utcnow() - dt.timedelta(hours=30)
            ),
            StripeIdempotencyKey(uuid="new", object_type="charge", action="create"),
        ]
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["stripe", "purge-idempotency-keys"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 idempotency key record(s) older than 24 hour(s)." in result.output
    assert db.session.scalars(sa.select(StripeIdempotencyKey.uuid)).all() == ["new"]
    result = app.test_cli_runner().invoke(args=["stripe", "purge-idempotency-keys", "--older-than-hours", "0"])
    assert result.exit_code == 2


def test_status_reports_a_reachable_stripe(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["stripe", "status"])
    assert result.exit_code == 0, result.output
    assert "Stripe:       reachable" in result.output
    assert "sk_test" not in result.output


def test_status_fails_when_stripe_is_unreachable() -> None:
    app = hostapp.create_app(
        {
            "STRIPE_API_KEY": "sk_test_1",
            "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
            "STRIPE_MAX_NETWORK_RETRIES": 0,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        }
    )
    result = app.test_cli_runner().invoke(args=["stripe", "status"])
    assert result.exit_code == 1
    assert "STRIPE_API_BASE" in result.output

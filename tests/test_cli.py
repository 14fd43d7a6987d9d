"""The ``flask stripe`` command group."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import ConfigurationError
from flask_stripe_billing.cli.general import describe_stripe
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeIdempotencyKey, utcnow
from flask_stripe_billing.offline import OFFLINE_API_KEY, OfflineStripe, free_port
from tests import hostapp
from tests.factories.apps import running_app

#: Every ``flask stripe`` command.
COMMANDS = [
    "charge",
    "check-pending-webhooks",
    "end-subscriptions",
    "purge-idempotency-keys",
    "refresh-coupons",
    "refresh-customers",
    "refresh-plans",
    "replay-webhooks",
    "status",
]


def listed_commands(help_text: str) -> list[str]:
    """The command names in the ``Commands:`` section of a group's ``--help``."""
    section = help_text.split("Commands:\n", 1)[1]
    return re.findall(r"^  (\S+)", section, re.MULTILINE)  # wrapped help lines are indented further


def test_group_is_listed_with_its_commands(app: Flask) -> None:
    runner = app.test_cli_runner()
    top = runner.invoke(args=["--help"])
    assert "stripe" in top.output
    group = runner.invoke(args=["stripe", "--help"])
    assert group.exit_code == 0
    assert sorted(listed_commands(group.output)) == COMMANDS


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


def idempotency_key(uuid: str, hours_old: float) -> StripeIdempotencyKey:
    created = utcnow() - dt.timedelta(hours=hours_old)
    return StripeIdempotencyKey(uuid=uuid, object_type="charge", action="create", created_at=created)


def test_purge_idempotency_keys_takes_an_age_from_the_option_or_the_setting(
    stripe_test_config: dict[str, Any], database_url: str
) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS": 12}
    with running_app(config) as app:
        db = hostapp.db
        db.session.add_all([idempotency_key(name, hours) for name, hours in [("2d", 50), ("30h", 30), ("1h", 1)]])
        db.session.commit()

        by_option = app.test_cli_runner().invoke(args=["stripe", "purge-idempotency-keys", "--older-than-hours", "48"])

        assert by_option.exit_code == 0, by_option.output
        assert "Deleted 1 idempotency key record(s) older than 48 hour(s)." in by_option.output
        assert sorted(db.session.scalars(sa.select(StripeIdempotencyKey.uuid))) == ["1h", "30h"]

        by_setting = app.test_cli_runner().invoke(args=["stripe", "purge-idempotency-keys"])

        assert by_setting.exit_code == 0, by_setting.output
        assert "Deleted 1 idempotency key record(s) older than 12 hour(s)." in by_setting.output
        assert db.session.scalars(sa.select(StripeIdempotencyKey.uuid)).all() == ["1h"]


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


def flask_command(config: dict[str, Any]) -> FlaskGroup:
    """The ``flask`` command itself, loading a host app with *config* the way ``flask --app`` does."""
    return FlaskGroup(create_app=lambda: hostapp.create_app(config))


def test_help_works_without_an_api_key() -> None:
    flask = flask_command({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    runner = CliRunner()
    top = runner.invoke(flask, ["--help"])
    assert top.exit_code == 0, top.output
    assert "stripe" in top.output
    group = runner.invoke(flask, ["stripe", "--help"])
    assert group.exit_code == 0, group.output
    assert sorted(listed_commands(group.output)) == COMMANDS
    for name in COMMANDS:
        result = runner.invoke(flask, ["stripe", name, "--help"], prog_name="flask")
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: flask stripe {name} [OPTIONS]" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_commands_without_an_api_key_fail_in_one_line(name: str) -> None:
    result = CliRunner().invoke(flask_command({"SQLALCHEMY_DATABASE_URI": "sqlite://"}), ["stripe", name])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: STRIPE_API_KEY is required: set it to your Stripe secret key")
    assert "FLASK_STRIPE_API_KEY" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_malformed_key_is_reported_masked_by_the_commands() -> None:
    key = "sk_live_51HqLyjWDarjtT1zdp7dcXyzLivePart4567\n"
    flask = flask_command({"STRIPE_API_KEY": key, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert CliRunner().invoke(flask, ["stripe", "--help"]).exit_code == 0
    result = CliRunner().invoke(flask, ["stripe", "status"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: STRIPE_API_KEY has spaces or a line break around it ('sk_live_...4567'): remove them; they are "
        "usually left by copying the value or reading it from a file.\n"
    )


def test_an_app_loaded_to_list_commands_raises_the_refused_setting_when_used() -> None:
    loaded: list[Flask] = []

    def create_app() -> Flask:
        loaded.append(hostapp.create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
        return loaded[0]

    assert CliRunner().invoke(FlaskGroup(create_app=create_app), ["stripe", "--help"]).exit_code == 0
    with pytest.raises(ConfigurationError, match=r"^STRIPE_API_KEY is required"):
        get_state(loaded[0]).gateway  # noqa: B018


def test_commands_that_serve_the_app_still_refuse_a_missing_key() -> None:
    result = CliRunner().invoke(flask_command({"SQLALCHEMY_DATABASE_URI": "sqlite://"}), ["routes"])
    assert isinstance(result.exception, ConfigurationError)
    assert result.exception.key == "STRIPE_API_KEY"


def test_status_says_it_talks_to_the_offline_stripe(app: Flask, offline_stripe: OfflineStripe) -> None:
    result = app.test_cli_runner().invoke(args=["stripe", "status"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Talks to:     offline Stripe at {offline_stripe.url}"
    assert offline_stripe.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"STRIPE_API_KEY": "sk_test_1"}, "Stripe (test mode)"),
        ({"STRIPE_API_KEY": "sk_live_1"}, "Stripe (live mode)"),
        ({"STRIPE_API_KEY": "sk_test_offline", "STRIPE_API_BASE": "http://localhost:12111"}, "offline Stripe at"),
        ({"STRIPE_API_KEY": "sk_test_1", "STRIPE_API_BASE": "http://127.0.0.1:12111/"}, "offline Stripe at"),
        ({"STRIPE_API_KEY": "sk_test_1", "STRIPE_API_BASE": "https://mock.example.com"}, "https://mock.example.com in"),
    ],
)
def test_status_names_what_it_talks_to(config: dict[str, Any], words: str) -> None:
    app = hostapp.create_app({**config, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert describe_stripe(get_state(app).config).startswith(words)


def real_flask(*args: str, app: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``flask`` command, as a user would, with no Stripe settings in the environment."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("FLASK_", "STRIPE_"))}
    root = str(Path(__file__).resolve().parent.parent)
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [root, clean.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


#: A host app with no Stripe settings at all, for ``flask --app``.
BARE_HOST = "tests.hostapp:create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://'})"


def test_real_flask_lists_every_command_and_each_ones_help_works() -> None:
    group = real_flask("stripe", "--help", app=BARE_HOST)
    assert group.returncode == 0, group.stderr
    assert "Traceback" not in group.stderr
    assert sorted(listed_commands(group.stdout)) == COMMANDS  # every command, and only those
    for name in COMMANDS:
        result = real_flask("stripe", name, "--help", app=BARE_HOST)
        assert result.returncode == 0, (name, result.stderr)
        assert f"stripe {name} [OPTIONS]" in result.stdout, (name, result.stdout)
        assert "Traceback" not in result.stderr


def test_real_flask_errors_without_an_api_key() -> None:
    app = BARE_HOST
    status = real_flask("stripe", "status", app=app)
    assert status.returncode == 1
    assert status.stderr.startswith("Error: STRIPE_API_KEY is required")
    assert len(status.stderr.strip().splitlines()) == 1
    served = real_flask("run", "--port", str(free_port()), app=app)
    assert served.returncode == 1
    assert "ConfigurationError: STRIPE_API_KEY is required" in served.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["status"], "Talks to:     offline Stripe at http://127.0.0.1:"),
        (["purge-idempotency-keys"], "Deleted 0 idempotency key record(s)"),
        (["refresh-customers"], "Refreshed 0 customer(s)"),
        (["end-subscriptions"], "Ended 0 of 0 subscription(s) at period end; 0 failed."),
        (["refresh-coupons"], "Coupons: 0 created, 0 updated, 0 deleted, 0 unchanged; 0 failed."),
        (["replay-webhooks"], "Replayed 0 event(s): 0 processed, 0 failed."),
        (["check-pending-webhooks", "--site", "shop.example.com"], "0 pending event(s) for shop.example.com."),
        (["charge", "--dry-run"], "Would charge 0 charge(s)."),
        (["charge"], "Charged 0 of 0 charge(s)"),
    ],
)
def test_every_command_through_the_real_flask_command(
    args: list[str], words: str, offline_stripe: OfflineStripe, tmp_path: Path
) -> None:
    config = {
        "STRIPE_API_KEY": OFFLINE_API_KEY,
        "STRIPE_API_BASE": offline_stripe.url,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite'}",
    }
    with hostapp.create_app(config).app_context():
        hostapp.db.create_all()
        hostapp.db.engine.dispose()
    result = real_flask("stripe", *args, app=f"tests.hostapp:create_app({config!r})")
    assert result.returncode == 0, result.stdout + result.stderr
    assert words in result.stdout
    assert "Traceback" not in result.stderr

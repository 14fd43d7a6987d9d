"""Fixtures: the package's own pytest plugin, a request validator, a database matrix, host apps.

From :mod:`flask_stripe_billing.testing` (loaded below), as a host application's suite would use it:

* ``offline_stripe_server`` / ``offline_stripe`` — localstripe in a child process on 127.0.0.1, started once per
  session; ``offline_stripe`` empties its store before the test;
* ``stripe_test_config`` — the ``STRIPE_*`` settings of every app here (the offline Stripe, valid keys, the
  plugin's webhook signing secret);
* ``billing_signals`` — every signal the extension sends during the test.

And the suite's own:

* ``stripe_http`` — the ``stripe.HTTPClient`` every app of the suite uses: it validates each request against
  Stripe's OpenAPI description and records it.  A violation fails the request and, in case something
  swallowed it, the whole session.
* ``database_url`` — SQLite always; PostgreSQL when ``TEST_POSTGRES_URL`` is set and MariaDB (or MySQL) when
  ``TEST_MARIADB_URL`` is (otherwise those tests are skipped, with the reason shown in the summary);
  ``scratch_database`` — a new database of the test's own.
* ``stub`` — the spec-validating Stripe stub (:mod:`tests.stripe_openapi.stub`) for what localstripe lacks;
  ``stub_app`` — a host app talking to it, with ``proration_policy`` and ``stripe_api_version`` (tests
  parametrize them).
* ``app``, ``bare_app``, ``db``, ``client`` (pytest-flask), ``user``, ``logged_in_client``, ``served`` (the app
  on a local port), ``offline_client`` (the ``stripe`` library on the offline Stripe), ``demo`` (the example
  app, with ``demo_config`` added to its settings), ``walk`` (Chromium on ``demo``).
* ``plan``, ``customer`` (``user``'s, with a card) at the offline Stripe, ``stub_customer`` at the stub, and
  ``subscription_signals``.

Helpers that are not fixtures are in :mod:`tests.factories`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import StripeCustomer, StripeSubscription, StripeSubscriptionPlan
from flask_stripe_billing.offline import OFFLINE_API_KEY, AppServer, OfflineStripe
from tests import hostapp
from tests.browser import CHROMIUM, CHROMIUM_ARGS, Walk
from tests.factories.apps import (
    MARIADB_SKIP_REASON,
    MARIADB_URL,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    log_in,
    make_user,
    reset_database,
    running_app,
    stub_config,
)
from tests.factories.signals import signals_with_committed_state
from tests.factories.subscriptions import created_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub

#: The package's own plugin, loaded as a host application's suite loads it.  Nothing imported above may import
#: ``flask_stripe_billing.testing``: a module imported before pytest loads it as a plugin cannot have its asserts
#: rewritten, and the warning saying so is an error here.
pytest_plugins = ["flask_stripe_billing.testing"]

_validating_client = ValidatingHTTPClient()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any request the extension sent did not match Stripe's OpenAPI description."""
    if _validating_client.violations:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"{len(_validating_client.violations)} request(s) violated Stripe's OpenAPI spec:", red=True
            )
            for violation in _validating_client.violations[:20]:
                reporter.write_line(f"  {violation}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def stripe_http() -> ValidatingHTTPClient:
    return _validating_client


def _postgres_param() -> Any:
    return pytest.param(
        "postgresql", marks=[pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)]
    )


def _mariadb_param() -> Any:
    return pytest.param(
        "mariadb", marks=[pytest.mark.mariadb, pytest.mark.skipif(not MARIADB_URL, reason=MARIADB_SKIP_REASON)]
    )


@pytest.fixture(params=["sqlite", _postgres_param(), _mariadb_param()])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database for one test: a new SQLite file, or the PostgreSQL or MariaDB test database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    url = POSTGRES_URL if request.param == "postgresql" else MARIADB_URL
    assert url
    return url


@pytest.fixture(params=["sqlite", _postgres_param(), _mariadb_param()])
def scratch_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, which other processes may open too: a new SQLite file, or a new
    PostgreSQL or MariaDB database on the test server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'host.sqlite'}"
        return
    server = POSTGRES_URL if request.param == "postgresql" else MARIADB_URL
    assert server
    name = f"fsb_scratch_{uuid.uuid4().hex[:8]}"
    quoted = f'"{name}"' if request.param == "postgresql" else f"`{name}`"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if request.param == "postgresql" else ""
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
        admin.dispose()


@pytest.fixture
def bare_app(
    database_url: str,
    stripe_test_config: dict[str, Any],
    offline_stripe: OfflineStripe,
    stripe_http: ValidatingHTTPClient,
) -> Iterator[Flask]:
    """A host app on an empty database and the (emptied) offline Stripe, with no application context pushed
    (as the ``flask`` command and ``app.test_cli_runner()`` find it)."""
    stripe_http.clear()
    application = hostapp.create_app(
        {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url}, http_client=stripe_http
    )
    with application.app_context():
        reset_database(hostapp.db)
    yield application
    with application.app_context():
        hostapp.db.session.remove()
        hostapp.db.engine.dispose()


@pytest.fixture
def app(bare_app: Flask) -> Iterator[Flask]:
    """:func:`bare_app` with its application context pushed for the test."""
    with bare_app.app_context():
        yield bare_app


@pytest.fixture
def stub(stripe_http: ValidatingHTTPClient) -> Iterator[StripeStub]:
    """A Stripe stub on 127.0.0.1 that validates every request against Stripe's OpenAPI description."""
    stripe_http.clear()
    with StripeStub() as server:
        yield server


@pytest.fixture
def proration_policy() -> bool:
    """``STRIPE_PRORATION_POLICY`` of ``stub_app``; tests parametrize it."""
    return False


@pytest.fixture
def stripe_api_version() -> str | None:
    """``STRIPE_API_VERSION`` of ``stub_app`` (``None``: the library's); tests parametrize it."""
    return None


@pytest.fixture
def stub_app(
    stub: StripeStub,
    database_url: str,
    stripe_http: ValidatingHTTPClient,
    proration_policy: bool,
    stripe_api_version: str | None,
) -> Iterator[Flask]:
    """A host app talking to the stub, on an empty database, in an app context."""
    config = {**stub_config(stub), "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_PRORATION_POLICY": proration_policy}
    if stripe_api_version is not None:
        config["STRIPE_API_VERSION"] = stripe_api_version
    with running_app(config, http_client=stripe_http) as application:
        yield application


@pytest.fixture
def db(app: Flask) -> SQLAlchemy:
    return hostapp.db


@pytest.fixture
def user(db: SQLAlchemy) -> hostapp.User:
    return make_user(db, "ada@example.com")


@pytest.fixture
def logged_in_client(client: FlaskClient, user: hostapp.User) -> FlaskClient:
    """A test client whose session is logged in as ``user`` (through Flask-Login's session keys)."""
    return log_in(client, user)


@pytest.fixture
def plan(db: SQLAlchemy) -> StripeSubscriptionPlan:
    """A monthly plan ($20), created at the offline Stripe."""
    return created_plan(db)


@pytest.fixture
def customer(user: hostapp.User) -> StripeCustomer:
    """``user``'s customer at the offline Stripe, with a card."""
    from flask_stripe_billing.testing import create_card_token  # not before pytest loads it as a plugin

    return create_customer(user, create_card_token())


@pytest.fixture
def subscription_signals() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The subscription signals sent during the test, as ``(name, kwargs)`` (``created``, ``updated``,
    ``canceled``), with the row's committed status when each was sent as ``kwargs["committed"]``."""
    names = {
        signals.subscription_created: "created",
        signals.subscription_updated: "updated",
        signals.subscription_canceled: "canceled",
    }

    def committed(connection: sa.Connection, subscription: StripeSubscription) -> Any:
        query = sa.select(StripeSubscription.status).where(StripeSubscription.id == subscription.id)
        return connection.execute(query).scalar_one()

    with signals_with_committed_state(names, committed) as seen:
        yield seen


@pytest.fixture
def stub_customer(db: SQLAlchemy, user: hostapp.User) -> StripeCustomer:
    """``user``'s customer at the stub, for modules whose ``app`` is ``stub_app`` (no card: the stub takes any
    payment)."""
    data = get_state().gateway.request("post", "/v1/customers", {}, object_type="test", action="create")
    row = StripeCustomer(stripe_customer_id=data["id"], is_created_at_stripe=True, subscriber_id=user.id)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app served on a local port (see :class:`AppServer` for why not Werkzeug's development server)."""
    with AppServer(app) as server:
        yield server.url


@pytest.fixture
def offline_client(offline_stripe: OfflineStripe) -> stripe.StripeClient:
    """The real ``stripe`` library against the (emptied) offline Stripe."""
    return stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": offline_stripe.url}, max_network_retries=0)


@pytest.fixture
def walk(demo: Flask, tmp_path: Path) -> Iterator[Walk]:
    """Headless Chromium on ``demo`` served on a local port (``walk.url``), screenshots in ``SCREENSHOTS_DIR`` or
    ``tmp_path``; the test fails on a script error or a failed request it did not expect."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with AppServer(demo) as server, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800}, base_url=server.url)
            context.set_default_timeout(15_000)
            tour = Walk(context.new_page(), folder, server.url)
            yield tour
            assert tour.errors == []
            assert tour.failed == []
        finally:
            browser.close()


@pytest.fixture
def demo_config() -> dict[str, Any]:
    """Settings ``demo`` adds: the card form rather than Checkout (the example app's default, which a module
    walks by overriding this fixture with ``{}``)."""
    return {"STRIPE_CHECKOUT": False}


@pytest.fixture
def demo(
    tmp_path: Path, stripe_test_config: dict[str, Any], stripe_http: ValidatingHTTPClient, demo_config: dict[str, Any]
) -> Iterator[Flask]:
    """The example app on a new SQLite database and the (emptied) offline Stripe."""
    from example_app import billing, create_app
    from example_app.models import db as demo_db

    billing._http_client = stripe_http  # every request the demo sends is checked against Stripe's spec too
    database = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    application = create_app({**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database, **demo_config})
    # No application context is held across requests: Flask would reuse it, and Flask-Login's user cached in
    # its ``g`` would leak from one test client's request to another's.
    yield application
    with application.app_context():
        demo_db.engine.dispose()

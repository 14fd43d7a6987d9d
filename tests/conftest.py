"""Fixtures: an offline Stripe (localstripe), a request validator, a database matrix, host apps.

* ``offline_stripe`` — localstripe in a child process on 127.0.0.1, started once per session; its store is
  emptied before every test that uses ``app``.
* ``stripe_http`` — the ``stripe.HTTPClient`` every app of the suite uses: it validates each request against
  Stripe's OpenAPI description and records it.  A violation fails the request and, in case something
  swallowed it, the whole session.
* ``database_url`` — SQLite always; PostgreSQL when ``TEST_POSTGRES_URL`` is set and MariaDB (or MySQL) when
  ``TEST_MARIADB_URL`` is (otherwise those tests are skipped, with the reason shown in the summary).
* ``stub`` — the spec-validating Stripe stub (:mod:`tests.stripe_openapi.stub`) for what localstripe lacks;
  ``stub_app`` — a host app talking to it (``stub_config(stub)`` for tests that build their own).
* ``app``, ``db``, ``client`` (pytest-flask), ``user``, ``logged_in_client``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.offline import OFFLINE_API_KEY, OFFLINE_PUBLISHABLE_KEY, OfflineStripe
from tests import hostapp
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = "TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (.ci/run sets it)"
MARIADB_URL = os.environ.get("TEST_MARIADB_URL")
MARIADB_SKIP_REASON = "TEST_MARIADB_URL is not set: MariaDB/MySQL tests skipped (.ci/run sets it)"

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
def offline_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStripe]:
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with OfflineStripe(log_path=str(log_path)) as server:
        yield server


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
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database for one test: a new SQLite file, or the PostgreSQL or MariaDB test database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    url = POSTGRES_URL if request.param == "postgresql" else MARIADB_URL
    assert url
    return url


_schema_of: dict[str, str] = {}


def reset_database(database: SQLAlchemy) -> None:
    """Empty every table of *database*: drop and create them (PostgreSQL keeps its schema between tests).

    On MariaDB, where creating some thirty tables and their indexes takes seconds, tables whose schema is the
    one created for the previous test are emptied with ``TRUNCATE`` instead (which also restarts the ids).
    """
    database.session.remove()
    engine = database.engine
    if engine.dialect.name != "mysql":
        database.drop_all()
        database.create_all()
        return
    schema = "\n".join(str(sa.schema.CreateTable(table).compile(engine)) for table in database.metadata.sorted_tables)
    present = set(sa.inspect(engine).get_table_names())
    if _schema_of.get(str(engine.url)) == schema and present >= set(database.metadata.tables):
        with engine.begin() as connection:
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            for table in database.metadata.sorted_tables:
                connection.exec_driver_sql(f"TRUNCATE TABLE `{table.name}`")
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        return
    with engine.begin() as connection:  # tables another test's metadata left behind
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in present:
            connection.exec_driver_sql(f"DROP TABLE `{name}`")
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    database.create_all()
    _schema_of[str(engine.url)] = schema


@pytest.fixture
def stripe_config(offline_stripe: OfflineStripe) -> dict[str, Any]:
    """The configuration every test app starts from: the offline Stripe, with valid keys."""
    return {
        "STRIPE_API_KEY": OFFLINE_API_KEY,
        "STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
        "STRIPE_API_BASE": offline_stripe.url,
        "STRIPE_JS_URL": offline_stripe.js_url,
        "STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_test_secret",
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_REQUESTS_PER_SECOND": 1000,
    }


@pytest.fixture
def bare_app(
    database_url: str, stripe_config: dict[str, Any], offline_stripe: OfflineStripe, stripe_http: ValidatingHTTPClient
) -> Iterator[Flask]:
    """A host app on an empty database and the offline Stripe, with no application context pushed (as the
    ``flask`` command and ``app.test_cli_runner()`` find it)."""
    offline_stripe.reset()
    stripe_http.clear()
    application = hostapp.create_app(
        {**stripe_config, "SQLALCHEMY_DATABASE_URI": database_url}, http_client=stripe_http
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


@contextlib.contextmanager
def running_app(config: dict[str, Any], **init_kwargs: Any) -> Iterator[Flask]:
    """A host app with *config*, in an app context, on an empty database; cleaned up afterwards."""
    application = hostapp.create_app(config, **init_kwargs)
    with application.app_context():
        reset_database(hostapp.db)
        yield application
        hostapp.db.session.remove()
        hostapp.db.engine.dispose()


@pytest.fixture
def stub(stripe_http: ValidatingHTTPClient) -> Iterator[StripeStub]:
    """A Stripe stub on 127.0.0.1 that validates every request against Stripe's OpenAPI description."""
    stripe_http.clear()
    with StripeStub() as server:
        yield server


def stub_config(stub: StripeStub) -> dict[str, Any]:
    """The configuration of an app that talks to *stub* (add ``SQLALCHEMY_DATABASE_URI`` and your own keys)."""
    return {
        "STRIPE_API_KEY": "sk_test_stub",
        "STRIPE_API_BASE": stub.url,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_REQUESTS_PER_SECOND": 1000,
    }


@pytest.fixture
def stub_app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    """A host app talking to the stub, on an empty database, in an app context."""
    config = {**stub_config(stub), "SQLALCHEMY_DATABASE_URI": database_url}
    with running_app(config, http_client=stripe_http) as application:
        yield application


@pytest.fixture
def db(app: Flask) -> SQLAlchemy:
    return hostapp.db


@pytest.fixture
def user(db: SQLAlchemy) -> hostapp.User:
    account = hostapp.User(email="ada@example.com")
    db.session.add(account)
    db.session.commit()
    return account


@pytest.fixture
def logged_in_client(client: FlaskClient, user: hostapp.User) -> FlaskClient:
    """A test client whose session is logged in as ``user`` (through Flask-Login's session keys)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return client


@contextlib.contextmanager
def signals_with_committed_state(
    names: dict[Any, str], committed: Callable[[sa.Connection, Any], Any]
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record each of the signals in *names* as ``(name, kwargs)``, with ``kwargs["committed"]`` set to what
    *committed* reads about the signal's ``instance`` on a connection of its own: the committed state, which a
    signal sent before its commit would not see."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def receiver(name: str) -> Callable[..., None]:
        def receive(sender: Any, **kwargs: Any) -> None:
            with get_state().db.engine.connect() as connection:
                seen.append((name, {**kwargs, "committed": committed(connection, kwargs["instance"])}))

        return receive

    receivers = {signal: receiver(name) for signal, name in names.items()}
    for signal, function in receivers.items():
        signal.connect(function)
    try:
        yield seen
    finally:
        for signal, function in receivers.items():
            signal.disconnect(function)


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def load_dev_script() -> ModuleType:
    """The repository's ``dev.py``, imported as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("dev", Path(__file__).resolve().parent.parent / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def offline_client(offline_stripe: OfflineStripe) -> stripe.StripeClient:
    """The real ``stripe`` library against the offline Stripe, emptied first."""
    offline_stripe.reset()
    return stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": offline_stripe.url}, max_network_retries=0)

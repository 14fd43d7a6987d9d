"""Host apps built by a test itself, the databases they run on, and the repository's ``dev.py``."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from tests import hostapp
from tests.stripe_openapi.stub import StripeStub

#: The PostgreSQL test database (``TEST_POSTGRES_URL``); without it, the PostgreSQL tests are skipped.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = "TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (.ci/run sets it)"
#: The MariaDB (or MySQL) test database (``TEST_MARIADB_URL``); without it, those tests are skipped.
MARIADB_URL = os.environ.get("TEST_MARIADB_URL")
MARIADB_SKIP_REASON = "TEST_MARIADB_URL is not set: MariaDB/MySQL tests skipped (.ci/run sets it)"

ROOT = Path(__file__).resolve().parent.parent.parent


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


@contextlib.contextmanager
def running_app(config: dict[str, Any], **init_kwargs: Any) -> Iterator[Flask]:
    """A host app with *config*, in an app context, on an empty database; cleaned up afterwards."""
    application = hostapp.create_app(config, **init_kwargs)
    with application.app_context():
        reset_database(hostapp.db)
        yield application
        hostapp.db.session.remove()
        hostapp.db.engine.dispose()


def stub_config(stub: StripeStub) -> dict[str, Any]:
    """The configuration of an app that talks to *stub* (add ``SQLALCHEMY_DATABASE_URI`` and your own keys)."""
    return {
        "STRIPE_API_KEY": "sk_test_stub",
        "STRIPE_API_BASE": stub.url,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_REQUESTS_PER_SECOND": 1000,
    }


def make_user(db: SQLAlchemy, email: str = "ada@example.com") -> hostapp.User:
    """A user of the host app, committed."""
    account = hostapp.User(email=email)
    db.session.add(account)
    db.session.commit()
    return account


def log_in(client: FlaskClient, user: hostapp.User) -> FlaskClient:
    """Log *client* in as *user* (through Flask-Login's session keys) and return it."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return client


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def load_dev_script() -> ModuleType:
    """The repository's ``dev.py``, imported as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

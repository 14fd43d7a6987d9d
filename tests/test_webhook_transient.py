"""Which database errors make the dispatcher run an event's transaction again (the database undid it and asks to
retry), and which mark the event failed.  Two deliveries at once deadlocking on MariaDB is exercised for real in
tests/test_adoption.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_stripe_billing.webhooks.dispatch import is_transient


class DriverError(Exception):
    """A DBAPI error as drivers raise them: a MySQL code first, or a SQLSTATE attribute (psycopg)."""

    def __init__(self, *args: object, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("original", "transient"),
    [
        (DriverError(1213, "Deadlock found when trying to get lock; try restarting transaction"), True),
        (DriverError(1205, "Lock wait timeout exceeded; try restarting transaction"), True),
        (DriverError("could not serialize access", sqlstate="40001"), True),
        (DriverError("deadlock detected", sqlstate="40P01"), True),
        (DriverError(1062, "Duplicate entry"), False),
        (DriverError("duplicate key value", sqlstate="23505"), False),
    ],
)
def test_deadlocks_and_serialization_failures_are_retried(original: Exception, transient: bool) -> None:
    assert is_transient(sa.exc.OperationalError("SELECT 1", {}, original)) is transient


def test_other_errors_are_not() -> None:
    assert not is_transient(ValueError("a handler's own error"))
    assert not is_transient(sa.exc.OperationalError("SELECT 1", {}, None))  # type: ignore[arg-type]

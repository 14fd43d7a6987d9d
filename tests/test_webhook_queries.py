"""Query budget of the webhook endpoint: what one delivery costs the database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from tests.test_webhook_route import deliver, event

#: Statements per event type, for the store and the processing together (transaction control excluded):
#: INSERT ... RETURNING; SELECT the event; UPDATE to processed.  Built-in handlers add their own reads and
#: writes to the event types they handle.
BUDGETS = {"ping": 3, "customer.updated": 3, "invoice.paid": 3}


@pytest.fixture
def statements(db: SQLAlchemy) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("event_type", sorted(BUDGETS))
def test_new_event_within_budget(client: FlaskClient, statements: list[str], event_type: str) -> None:
    deliver(client, json.dumps(event(f"evt_{event_type}", event_type)).encode())
    assert len(statements) <= BUDGETS[event_type], statements


def test_duplicate_costs_one_statement(client: FlaskClient, statements: list[str]) -> None:
    body = json.dumps(event("evt_twice")).encode()
    deliver(client, body)
    statements.clear()
    deliver(client, body)
    assert len(statements) == 1, statements

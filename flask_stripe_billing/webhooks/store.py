"""Storing an event exactly once, keyed by its Stripe id, with an insert that cannot race."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import MalformedEventError
from ..models import StripeWebhook, WebhookStatus, from_timestamp, utcnow

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


#: The events' table, for Core statements.
WEBHOOK_TABLE: sa.Table = StripeWebhook.__table__  # type: ignore[assignment]


#: The range of ``created`` a datetime column holds: 1970-01-01 to 9999-12-31 (Stripe's are seconds since 1970).
LATEST_TIMESTAMP = 253_402_300_799

__all__ = ["MalformedEventError", "event_fields", "store_event"]


def event_fields(event: Any) -> dict[str, Any]:
    """The columns of a :class:`StripeWebhook` for *event* (a decoded Stripe event).

    :raises MalformedEventError: if *event* lacks an ``evt_`` id or a type, or its ``created`` is not a time.
    """
    if not isinstance(event, dict):
        raise MalformedEventError("The body is not a JSON object.")
    event_id, event_type = event.get("id"), event.get("type")
    # Stripe's ids are letters, digits and underscores: a space or a control character names no event (and
    # MariaDB's PAD SPACE collations would take "evt_1 " for "evt_1").
    if (
        not isinstance(event_id, str)
        or not event_id.startswith("evt_")
        or len(event_id) > 255
        or not event_id.isprintable()
        or any(character.isspace() for character in event_id)
    ):
        raise MalformedEventError("The event has no valid 'id' (evt_...).")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise MalformedEventError("The event has no 'type'.")
    created = event.get("created")
    if created is not None and (
        not isinstance(created, int) or isinstance(created, bool) or not 0 <= created <= LATEST_TIMESTAMP
    ):
        raise MalformedEventError("The event's 'created' is not a time in seconds since 1970.")
    api_version = event.get("api_version")
    return {
        "id": event_id,
        "type": event_type,
        "livemode": bool(event.get("livemode", False)),
        "api_version": api_version if isinstance(api_version, str) else None,
        "event_created": from_timestamp(created),
        "raw_data": event,
        "status": WebhookStatus.RECEIVED,
    }


def store_event(db: SQLAlchemy, fields: dict[str, Any]) -> bool:
    """Insert the event unless a row with its id exists; commit; return whether this call stored it.

    ``INSERT ... ON CONFLICT DO NOTHING`` lets two deliveries of one event arrive at the same moment without
    either failing: exactly one of them inserts, and only that one goes on to process the event.
    """
    now = utcnow()
    values = {**fields, "received_at": now, "created_at": now, "updated_at": now, "attempts": 0, "is_parsed": False}
    dialect = db.session.get_bind(mapper=sa.inspect(StripeWebhook)).dialect.name
    # A Core insert into the table: the ORM's bulk-insert layer added a quarter to the cost of storing.
    table = WEBHOOK_TABLE
    statement: sa.Executable
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=["id"])
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=["id"])
    else:
        return _store_portably(db, values)
    # RETURNING says whether a row was inserted; rowcount is not reliable for this on every driver.
    inserted = db.session.execute(statement.returning(table.c.id)).first() is not None  # type: ignore[attr-defined]
    db.session.commit()
    return inserted


def _store_portably(db: SQLAlchemy, values: dict[str, Any]) -> bool:
    """Other databases: insert, and take a duplicate-key error as "already stored"."""
    try:
        db.session.execute(sa.insert(WEBHOOK_TABLE).values(**values))
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False
    return True

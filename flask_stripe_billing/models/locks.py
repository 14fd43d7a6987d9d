"""Finding the row an event is about, and locking it before comparing times.

Every handler that writes compares the event's time with the row's ``stripe_synced_at``
(:func:`flask_stripe_billing.models.freshness.is_older`) on a row it has locked (``SELECT ... FOR UPDATE`` on
PostgreSQL, held until the dispatcher commits), so that two events for one object processed at the same moment are
applied one after the other and the newer one wins.  The locking ``SELECT`` also reloads the row
(``populate_existing``): the times compared are the committed ones, not those of an older read.

A handler that asks Stripe nothing locks at once (:func:`find_locked`).  A handler that re-reads the object
from Stripe must hold no lock during the request: it finds the row with a plain ``SELECT`` (:func:`find`, with
autoflush off, so that nothing a ``webhook_pre_parse`` receiver added is flushed, which would open a write
transaction), asks Stripe, and only then locks the row (:func:`lock`) and compares the times.

Rows are named by keyword, column name = value (``find(StripeCustomer, stripe_customer_id=...)``).  Several
keywords find the row matching any of them; ``None`` or empty values are left out, and when none is left
nothing is looked up.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..core.state import get_state


class _Row(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Row)


def find(model: type[Row], **ids: Any) -> Row | None:
    """The row of *model* with any of *ids*, read without a lock and without flushing pending changes."""
    query = _select(model, ids)
    if query is None:
        return None
    session = get_state().db.session
    with session.no_autoflush:
        return session.scalars(query).first()


def lock(row: Row) -> Row:
    """*row* reloaded, with its row locked until the dispatcher commits (PostgreSQL)."""
    model = type(row)
    query = _for_update(sa.select(model).filter_by(id=row.id), model)
    return get_state().db.session.scalars(query).one()


def find_locked(model: type[Row], *, among: sa.Select[Row] | None = None, **ids: Any) -> Row | None:
    """The row of *model* with any of *ids*, locked until the dispatcher commits (PostgreSQL) and reloaded.

    *among* narrows the search to a query of *model* (the live coupons, say).
    """
    query = _select(model, ids, among)
    if query is None:
        return None
    return get_state().db.session.scalars(_for_update(query, model)).first()


def _select(model: type[Row], ids: dict[str, Any], among: sa.Select[Row] | None = None) -> sa.Select[Row] | None:
    conditions = [getattr(model, name) == value for name, value in ids.items() if value is not None and value != ""]
    if not conditions:
        return None
    return (sa.select(model) if among is None else among).where(sa.or_(*conditions)).limit(1)


def _for_update(query: sa.Select[Row], model: type[Row]) -> sa.Select[Row]:
    # ``of``: lock only this table, not those joined for eager loading (PostgreSQL refuses FOR UPDATE on the
    # nullable side of an outer join).
    return query.with_for_update(of=model).execution_options(populate_existing=True)


def insert_once(model: type[Any], values: dict[str, Any], unique: str) -> bool:
    """Insert a row of *model* unless one with the same *unique* column exists; return whether it was inserted.

    Two transactions at once: one inserts, the other waits for it and inserts nothing (``ON CONFLICT DO
    NOTHING`` on PostgreSQL and SQLite, a savepoint elsewhere).  No commit.
    """
    session = get_state().db.session
    table = model.__table__
    dialect = session.get_bind(mapper=sa.inspect(model)).dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=[unique])
        return session.execute(statement.returning(table.c.id)).first() is not None
    try:
        with session.begin_nested():
            session.execute(sa.insert(table).values(**values))
    except sa.exc.IntegrityError:
        return False
    return True

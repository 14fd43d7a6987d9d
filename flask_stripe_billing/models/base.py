"""The declarative base, column types and mixins shared by every model.

The models are declared once, at import time, on the extension's own :class:`~sqlalchemy.MetaData`, so that
``from flask_stripe_billing.models import StripeCharge`` works anywhere in a host application.
:func:`attach_to_host` (called by ``init_app``) copies the tables into the host's ``db.metadata`` — so that
``db.create_all()`` and Flask-Migrate's autogenerate see them — and adds the foreign key to the host's
subscriber table there.  The subscriber itself is reached through the application's configured subscriber
model (see :class:`SubscriberMixin`), so one process can serve applications billing different models.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..core.state import get_state
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

#: Every table of the extension starts with this prefix.
TABLE_PREFIX = "stripe_billing_"

#: Explicit constraint names, so that migrations are stable across databases and host naming conventions.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSONB on PostgreSQL (indexable, compact), JSON elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on every database.

    SQLite has no time zones, so a plain ``DateTime(timezone=True)`` would hand back naive values there and
    aware ones on PostgreSQL; comparing the two raises.  Naive values given to it are taken to be UTC.  MariaDB
    and MySQL store a ``DATETIME(6)`` in UTC (their ``DATETIME`` has no zone, and no fraction of a second unless
    asked for one).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name in ("sqlite", "mysql") else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def from_timestamp(value: Any) -> dt.datetime | None:
    """A Stripe timestamp (seconds since the epoch) as an aware UTC datetime; ``None`` stays ``None``."""
    if value is None or value == "":
        return None
    return dt.datetime.fromtimestamp(int(value), dt.UTC)


class Base(DeclarativeBase):
    """The declarative base of the extension's models (not the host's ``db.Model``)."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} {ident!r}>"


class TimestampMixin:
    """``created_at`` and ``updated_at``, kept by the database session."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StripeObjectMixin(TimestampMixin):
    """What every model mirroring a Stripe object keeps besides its own columns.

    ``stripe_response`` is the last raw Stripe object seen (a plain ``dict``; assign a new value rather than
    mutating it in place).  ``stripe_synced_at`` is when that data was current at Stripe — the ``created``
    time of the event that carried it, or the time it was fetched — so that an older event never overwrites
    newer state.
    """

    stripe_response: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    stripe_synced_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SubscriberMixin:
    """A link to the application's subscriber (a user, an organization, ...).

    Only ``subscriber_id`` is a column; :attr:`subscriber` loads the object through the subscriber model
    configured for the current application.  The database foreign key is added to the host's copy of the
    table by :func:`attach_to_host`, with ``ON DELETE SET NULL`` so that deleting a user keeps the money
    records.
    """

    subscriber_id: Mapped[Any] = mapped_column(sa.Integer, index=True, nullable=True)

    @property
    def subscriber(self) -> Any:
        """The subscriber object, loaded through the current application's subscriber model."""
        if self.subscriber_id is None:
            return None
        state = get_state()
        return state.db.session.get(state.subscriber_model, self.subscriber_id)

    @subscriber.setter
    def subscriber(self, subscriber: Any) -> None:
        self.subscriber_id = None if subscriber is None else subscriber_key(subscriber)


def subscriber_key(subscriber: Any) -> Any:
    """The primary key of *subscriber*, flushing it first if it has none yet."""
    identity = sa.inspect(subscriber).identity
    if identity is None:
        get_state().db.session.flush()
        identity = sa.inspect(subscriber).identity
    if identity is None or len(identity) != 1:
        raise TypeError(f"{subscriber!r} must have a single-column primary key to be a subscriber.")
    return identity[0]


#: The Python type of ``subscriber_id`` once an application has been attached (one per process).
_bound_key_type: list[type[Any]] = []


def bind_subscriber_key_type(subscriber_model: type[Any]) -> None:
    """Give ``subscriber_id`` the type of the subscriber model's primary key (integer, UUID, string)."""
    primary_key = sa.inspect(subscriber_model).primary_key
    if len(primary_key) != 1:
        raise ConfigurationError(
            "STRIPE_SUBSCRIBER_MODEL", f"{subscriber_model.__name__} must have a single-column primary key."
        )
    key_type = primary_key[0].type
    if _bound_key_type and _bound_key_type[0] is not type(key_type):
        raise ConfigurationError(
            "STRIPE_SUBSCRIBER_MODEL",
            f"{subscriber_model.__name__}'s primary key is {key_type!r}, but another application in this "
            f"process bills subscribers whose key is a {_bound_key_type[0].__name__}; use one key type per process.",
        )
    _bound_key_type[:] = [type(key_type)]
    for table in Base.metadata.sorted_tables:
        if "subscriber_id" in table.c:
            table.c.subscriber_id.type = key_type


def attach_to_host(db: SQLAlchemy, subscriber_model: type[Any]) -> None:
    """Copy the extension's tables into the host's metadata, with the foreign key to the subscriber table."""
    bind_subscriber_key_type(subscriber_model)
    subscriber_table = sa.inspect(subscriber_model).local_table
    primary_key = sa.inspect(subscriber_model).primary_key[0]
    for table in Base.metadata.sorted_tables:
        if table.name in db.metadata.tables:
            _check_same_subscriber(db.metadata.tables[table.name], subscriber_table)
            continue
        copy = table.to_metadata(db.metadata)
        _keep_conditional_ddl(table, copy)
        for column in copy.columns:
            # The host's migrations must not import the extension: give them the plain type underneath.
            if isinstance(column.type, UTCDateTime):
                column.type = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")
            elif isinstance(column.type, sa.JSON):
                column.type = _json_for_migrations()
        if "subscriber_id" in copy.c and subscriber_table.metadata is db.metadata:
            copy.append_constraint(
                sa.ForeignKeyConstraint(
                    ["subscriber_id"],
                    [primary_key],
                    name=f"fk_{copy.name}_subscriber_id_{subscriber_table.name}",
                    ondelete="SET NULL",
                )
            )


def _keep_conditional_ddl(table: sa.Table, copy: sa.Table) -> None:
    """Give the copy's indexes the conditions of the originals (``to_metadata`` leaves ``ddl_if`` behind)."""
    copies = {index.name: index for index in copy.indexes}
    for index in table.indexes:
        condition = getattr(index, "_ddl_if", None)
        if condition is not None and index.name in copies:
            copies[index.name].ddl_if(dialect=condition.dialect, callable_=condition.callable_, state=condition.state)


def _json_for_migrations() -> sa.types.TypeEngine[Any]:
    """JSON, JSONB on PostgreSQL, in a form Alembic renders without imports the script lacks.

    Alembic renders JSONB's text type as a bare ``Text()`` when the script is generated on another database;
    the host's copy of a table is only used for DDL, so the text type (used by ``->>`` queries) can go.
    """
    jsonb = postgresql.JSONB()
    jsonb.astext_type = None  # type: ignore[assignment]
    return sa.JSON().with_variant(jsonb, "postgresql")


def _check_same_subscriber(copy: sa.Table, subscriber_table: sa.Table) -> None:
    """Refuse to point one database's tables at two different subscriber tables."""
    for fk in copy.foreign_keys:
        if fk.parent.name == "subscriber_id" and fk.column.table is not subscriber_table:
            raise ConfigurationError(
                "STRIPE_SUBSCRIBER_MODEL",
                f"this database's billing tables already belong to subscribers in {fk.column.table.name!r}; "
                f"applications sharing one SQLAlchemy object must bill the same subscriber model.",
            )

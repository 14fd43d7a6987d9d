"""Idempotency keys: the default ``STRIPE_IDEMPOTENCY_KEY_CALLBACK`` and the purge of old records."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..core.client import KeyFactory, random_idempotency_key
from . import StripeIdempotencyKey, utcnow

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


def stored_key_factory(db: SQLAlchemy) -> KeyFactory:
    """The default key callback: a UUID4, recorded as a :class:`StripeIdempotencyKey` before it is returned.

    The record is written on a connection of its own and committed at once, so that it never commits (or
    waits for) whatever the caller's session holds.
    """

    def make_key(object_type: str, action: str, livemode: bool) -> str:
        key = random_idempotency_key()
        with db.engine.begin() as connection:
            connection.execute(
                sa.insert(StripeIdempotencyKey).values(
                    uuid=key, object_type=object_type, action=action, livemode=livemode, created_at=utcnow()
                )
            )
        return key

    return make_key


def purge_idempotency_keys(db: SQLAlchemy, max_age: dt.timedelta) -> int:
    """Delete key records older than *max_age*; return how many were deleted."""
    cutoff = utcnow() - max_age
    result = db.session.execute(sa.delete(StripeIdempotencyKey).where(StripeIdempotencyKey.created_at < cutoff))
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)

"""``StripeIdempotencyKey``: the record of an idempotency key handed out before a Stripe request."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TABLE_PREFIX, Base, utcnow


class StripeIdempotencyKey(Base):
    """One key per mutating Stripe request, stored before the request is sent.

    Stripe remembers a key for at least 24 hours; ``flask stripe purge-idempotency-keys`` deletes records
    older than ``STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS``.
    """

    __tablename__ = f"{TABLE_PREFIX}idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    object_type: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    livemode: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

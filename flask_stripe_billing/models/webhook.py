"""``StripeWebhook``: an event received from Stripe, stored exactly once."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import TABLE_PREFIX, Base, JSONType, TimestampMixin, utcnow


class WebhookStatus(enum.StrEnum):
    """Processing status of a stored event."""

    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


class StripeWebhook(TimestampMixin, Base):
    """A Stripe event as received, keyed by the event id, with its processing status."""

    __tablename__ = f"{TABLE_PREFIX}webhooks"

    #: The Stripe event id (``evt_...``); its uniqueness is what stores an event exactly once.
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(255), index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    api_version: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    #: Stripe's ``created`` time of the event.
    event_created: Mapped[dt.datetime | None] = mapped_column(index=True, default=None)
    #: The event exactly as received (parsed JSON of the verified body).
    raw_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), default=WebhookStatus.RECEIVED, index=True)
    is_parsed: Mapped[bool] = mapped_column(default=False)
    parse_error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

"""Reading a stored event: its object and its time, whatever the API version's shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import StripeWebhook


def event_object(webhook: StripeWebhook) -> dict[str, Any]:
    """The object the event is about (``data.object``), or ``{}`` when the event carries none."""
    data = (webhook.raw_data or {}).get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}


def previous_attributes(webhook: StripeWebhook) -> dict[str, Any]:
    """``data.previous_attributes`` of an ``*.updated`` event, or ``{}``."""
    data = (webhook.raw_data or {}).get("data")
    previous = data.get("previous_attributes") if isinstance(data, dict) else None
    return previous if isinstance(previous, dict) else {}


def event_time(webhook: StripeWebhook) -> dt.datetime | None:
    """When Stripe created the event: the time its object's data was current."""
    return webhook.event_created

"""The handlers an application adds for event types (the built-in ones are in :mod:`.handlers`).

A handler receives the stored :class:`~flask_stripe_billing.models.StripeWebhook` and changes rows in the
session without committing; the dispatcher commits once all handlers for the event have run.

.. code-block:: python

    from flask_stripe_billing.webhooks import handles

    @handles("invoice.paid")
    def remember_paid_invoice(webhook):
        ...
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import StripeWebhook

Handler = Callable[["StripeWebhook"], None]

_handlers: defaultdict[str, list[Handler]] = defaultdict(list)


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function for each of *event_types* (``"*"`` for every event)."""

    def register(function: Handler) -> Handler:
        for event_type in event_types:
            if function not in _handlers[event_type]:
                _handlers[event_type].append(function)
        return function

    return register


def handlers_for(event_type: str) -> list[Handler]:
    """The handlers registered for *event_type*, then those for every event."""
    return [*_handlers.get(event_type, ()), *_handlers.get("*", ())]


def unregister(function: Handler) -> None:
    """Remove *function* from every event type (for tests and plug-ins that come and go)."""
    for handlers in _handlers.values():
        if function in handlers:
            handlers.remove(function)

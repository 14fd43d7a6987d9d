"""Signals that webhook handlers send once the dispatcher has committed their changes.

Handlers run inside the dispatcher's transaction and must not commit, so they cannot send a signal themselves:
a receiver would see state that may still roll back.  A handler calls :func:`send_after_commit` instead; the
signal is queued on the database session and sent by a :data:`~flask_stripe_billing.signals.webhook_post_parse`
receiver, which the dispatcher fires only after its commit.  If processing fails, the dispatcher rolls back and
never sends ``webhook_post_parse``; the queue is then dropped when the next event starts
(:data:`~flask_stripe_billing.signals.webhook_pre_parse`), so a failed event's signals are never sent.
Each queued signal is sent with :func:`~flask_stripe_billing.core.notify.send_committed`: a receiver that raises
is logged and does not keep the others, nor the signals queued after it, from being sent.
"""

from __future__ import annotations

from typing import Any

from blinker import Signal

from ..core.notify import send_committed
from ..core.state import get_state
from ..signals import webhook_post_parse, webhook_pre_parse

#: The key of the queue in ``db.session.info`` (one queue per session, so per thread or task).
QUEUE_KEY = "stripe_billing_deferred_signals"


def send_after_commit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Queue ``signal.send(sender, **kwargs)`` until the event being processed is committed."""
    _queue().append((signal, sender, kwargs))


def _queue() -> list[tuple[Signal, Any, dict[str, Any]]]:
    info = get_state().db.session.info
    queue: list[tuple[Signal, Any, dict[str, Any]]] = info.setdefault(QUEUE_KEY, [])
    return queue


def _drop_queued(sender: Any, **kwargs: Any) -> None:
    get_state().db.session.info.pop(QUEUE_KEY, None)


def _send_queued(sender: Any, **kwargs: Any) -> None:
    queued = get_state().db.session.info.pop(QUEUE_KEY, None) or []
    for signal, signal_sender, signal_kwargs in queued:
        send_committed(signal, signal_sender, **signal_kwargs)


webhook_pre_parse.connect(_drop_queued)
webhook_post_parse.connect(_send_queued)

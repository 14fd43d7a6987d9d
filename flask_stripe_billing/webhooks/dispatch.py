"""Processing a stored event: signals around the registered handlers, status and errors kept on the row."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..core.notify import send_committed
from ..core.state import get_state
from ..models import StripeWebhook, WebhookStatus, utcnow
from ..signals import webhook_post_parse, webhook_pre_parse
from .handlers import BUILTIN_HANDLERS
from .registry import handlers_for

logger = logging.getLogger(__name__)


def split_event_type(event_type: str) -> tuple[str | None, str | None]:
    """Split at the last dot: ``"customer.subscription.updated"`` -> ``("customer.subscription", "updated")``.

    An event type without a dot (``"ping"``) gives ``(None, None)``.
    """
    model, dot, action = event_type.rpartition(".")
    return (model, action) if dot else (None, None)


def process_webhook(webhook_id: str, *, force: bool = False) -> bool:
    """Process one stored event; return whether it succeeded.

    An event already processed is left alone unless *force* is true (``flask stripe replay-webhooks``).

    ``webhook_pre_parse`` is sent, the handlers run, their changes and the new status are committed together,
    then ``webhook_post_parse`` is sent.  If a handler or a ``webhook_pre_parse`` receiver raises, the changes
    are rolled back and the event is marked failed with the error and the attempt count, for
    ``flask stripe replay-webhooks`` — except a deadlock or serialization failure (:func:`is_transient`), after
    which the whole transaction runs again, up to :data:`TRANSIENT_ATTEMPTS` times.  Once committed, the event
    stays processed: a ``webhook_post_parse``
    receiver (or one of a signal the handlers queued) that raises is logged and reported by
    :func:`~flask_stripe_billing.core.notify.send_committed`, and the handlers are not run again.
    """
    session = get_state().db.session
    webhook = session.get(StripeWebhook, webhook_id)
    if webhook is None:
        return False
    if webhook.status == WebhookStatus.PROCESSED and not force:
        return True
    # One transaction for the handlers' changes and the status: a crash part-way leaves the event "received",
    # which replay-webhooks --failed takes up; no intermediate commit is needed (each one costs a disk sync).
    event_type = webhook.type
    model, action = split_event_type(event_type)
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            _run_handlers(webhook, event_type, model, action)
            break
        except Exception as exc:
            if attempt < TRANSIENT_ATTEMPTS and is_transient(exc):
                # A deadlock or serialization failure (two deliveries at once): the database undid the whole
                # transaction; run it again, as the database asks.
                session.rollback()
                refreshed = session.get(StripeWebhook, webhook_id)
                if refreshed is None:
                    return False
                webhook = refreshed
                continue
            logger.exception("Processing Stripe event %s (%s) failed", webhook_id, event_type)
            record_failure(webhook_id, exc)
            return False
    # After the commit: a receiver's error cannot undo the event, so it must not mark it failed (a replay would
    # run the committed handlers, and every side effect of the receivers, a second time).
    send_committed(
        webhook_post_parse,
        StripeWebhook,
        instance=webhook,
        event_type=event_type,
        event_model=model,
        event_action=action,
    )
    return True


def _run_handlers(webhook: StripeWebhook, event_type: str, model: str | None, action: str | None) -> None:
    """``webhook_pre_parse``, the handlers, and the status, committed together."""
    webhook_pre_parse.send(
        StripeWebhook, instance=webhook, event_type=event_type, event_model=model, event_action=action
    )
    builtin = BUILTIN_HANDLERS.get(webhook.type)
    for handler in [*([builtin] if builtin else []), *handlers_for(webhook.type)]:
        handler(webhook)
    webhook.status = WebhookStatus.PROCESSED
    webhook.attempts += 1
    webhook.is_parsed = True
    webhook.parse_error = None
    webhook.processed_at = utcnow()
    get_state().db.session.commit()


#: How often an event is processed when the database undoes the transaction as a deadlock or a serialization
#: failure (it asks to be retried).
TRANSIENT_ATTEMPTS = 3

#: MySQL/MariaDB error codes (deadlock, lock wait timeout) and SQLSTATEs (serialization failure, deadlock) of a
#: transaction the database undid and asks to retry.
TRANSIENT_MYSQL_CODES = frozenset({1213, 1205})
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


def is_transient(exc: BaseException) -> bool:
    """Whether *exc* is a database error the database asks to retry (a deadlock, a serialization failure)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    original = exc.orig
    code = original.args[0] if original is not None and original.args else None
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code in TRANSIENT_MYSQL_CODES or sqlstate in TRANSIENT_SQLSTATES


def record_failure(webhook_id: str, exc: BaseException, *, count_attempt: bool = True) -> None:
    """Mark the event failed with *exc*, discarding whatever the failed attempt left in the session."""
    session = get_state().db.session
    session.rollback()
    webhook = session.get(StripeWebhook, webhook_id)
    if webhook is not None:
        webhook.status = WebhookStatus.FAILED
        webhook.attempts += int(count_attempt)
        webhook.is_parsed = False
        webhook.parse_error = f"{type(exc).__name__}: {exc}"[:10_000]
        session.commit()

"""Processing a stored event: signals around the registered handlers, status and errors kept on the row."""

from __future__ import annotations

import logging

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
    ``flask stripe replay-webhooks``.  Once committed, the event stays processed: a ``webhook_post_parse``
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
    try:
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
        session.commit()
    except Exception as exc:
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

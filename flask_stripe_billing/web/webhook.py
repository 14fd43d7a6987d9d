"""The webhook route: verify, store once, answer, then process."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request

from ..core.state import get_state
from ..errors import MalformedEventError
from ..models import StripeWebhook
from ..webhooks.dispatch import process_webhook, record_failure
from ..webhooks.payload import decode_event
from ..webhooks.store import event_fields, store_event
from ..webhooks.verify import SignatureError, WebhookNotConfiguredError, verify_signature

logger = logging.getLogger(__name__)

#: Stripe's events are a few kilobytes; anything this large is not one.
MAX_BODY_BYTES = 512 * 1024


def add_webhook_route(blueprint: Blueprint, path: str) -> None:
    """Add ``POST <path>`` to *blueprint* as the endpoint ``stripe_billing.webhook``."""
    blueprint.add_url_rule(path, "webhook", receive_webhook, methods=["POST"])


def receive_webhook() -> tuple[Response, int]:
    """Receive one event from Stripe.

    4xx and nothing stored for anything that is not a correctly signed, recent event.  A redelivery is
    answered 200 and not processed again.  Without a signing secret every request is refused with 503, so
    that Stripe keeps retrying and nothing is lost once the secret is configured.
    """
    state = get_state()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _error("The body is too large to be a Stripe event.", 413)
    payload = request.stream.read(MAX_BODY_BYTES + 1)
    if len(payload) > MAX_BODY_BYTES:
        return _error("The body is too large to be a Stripe event.", 413)
    try:
        verify_signature(
            payload,
            request.headers.get("Stripe-Signature"),
            state.config.webhook_secrets,
            state.config.webhook_tolerance,
        )
    except WebhookNotConfiguredError as exc:
        logger.error("Refused a Stripe webhook: %s", exc)
        return _error("This webhook endpoint is not configured.", 503)
    except SignatureError as exc:
        return _error(str(exc), 400)
    try:
        fields = event_fields(decode_event(payload))
    except MalformedEventError as exc:
        return _error(str(exc), 400)
    try:
        stored = store_event(state.db, fields)
    except sa.exc.DataError:
        # What the checks above missed and the database refuses: nothing was stored, Stripe is told why.
        state.db.session.rollback()
        logger.warning("The database refused to store Stripe event %s", fields["id"], exc_info=True)
        return _error("The event could not be stored as it is.", 400)
    if not stored:
        return jsonify(received=fields["id"], duplicate=True), 200
    response = jsonify(received=fields["id"], duplicate=False)
    response.call_on_close(_processor(fields["id"]))
    return response, 200


def _processor(webhook_id: str) -> Callable[[], None]:
    """What runs once the answer has been sent: the configured callback, or processing in this process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            state = get_state()
            callback = state.config.webhook_event_callback
            if callback is None:
                process_webhook(webhook_id)
                return
            try:
                callback(state.db.session.get(StripeWebhook, webhook_id))
            except Exception as exc:
                logger.exception("STRIPE_WEBHOOK_EVENT_CALLBACK failed for %s", webhook_id)
                record_failure(webhook_id, exc)

    return run


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=message), status

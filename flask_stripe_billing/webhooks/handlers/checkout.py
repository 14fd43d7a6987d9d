"""Built-in handlers for Checkout Session events: store what a completed session made.

``checkout.session.completed``, ``checkout.session.async_payment_succeeded`` and
``checkout.session.async_payment_failed`` carry the session without what it made expanded, so the session is
re-read from Stripe (:func:`~flask_stripe_billing.checkout.complete.read_session`, no row locked) and stored
with :func:`~flask_stripe_billing.checkout.complete.store_session`, the function the return page uses: whichever
comes first makes the subscription or the charge, the others find it.  ``checkout.session.expired`` gives
back the charge the pay page claimed for the session
(:func:`~flask_stripe_billing.checkout.complete.release_expired_session`), without asking Stripe: an expired
session cannot be paid any more.  Sessions of customers we do not know store nothing.  Signals are sent once
the dispatcher has committed.
"""

from __future__ import annotations

from ...checkout.complete import read_session, release_expired_session, session_customer, store_session
from ...core.shapes import expandable_id
from ...models import StripeWebhook
from ...models.freshness import fetched_now
from ..deferred import send_after_commit
from ..events import event_object, event_time

#: Every Checkout Session event handled here.
CHECKOUT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)


def checkout_session_changed(webhook: StripeWebhook) -> None:
    """Re-read a completed session of one of our customers and store what it made; for an expired one, give
    back the charge it was opened for."""
    data = event_object(webhook)
    session_id = expandable_id(data.get("id"))
    if data.get("object") not in (None, "checkout.session") or session_id is None:
        return
    if data.get("status") == "expired":
        release_expired_session(data)  # final at Stripe: nothing to re-read
        return
    if data.get("status") != "complete":
        return
    if session_customer(data) is None:
        return
    created = event_time(webhook)
    seen_at = max(fetched_now(), created) if created is not None else fetched_now()
    _, pending = store_session(read_session(session_id), seen_at)
    for signal, sender, kwargs in pending:
        send_after_commit(signal, sender, **kwargs)

"""Built-in handlers for subscription events: keep ``StripeSubscription`` rows current.

* ``customer.subscription.created`` / ``updated`` / ``deleted`` / ``trial_will_end`` carry the whole
  subscription.  It is applied with :func:`~flask_stripe_billing.subscriptions.from_stripe.apply_stripe_subscription`
  unless the row already holds newer data (the event's ``created`` against the row's ``stripe_synced_at``).
* ``invoice.paid`` and ``invoice.payment_failed`` carry an invoice, not the subscription, whose status the
  payment may have changed (``past_due``, back to ``active``): the subscription is re-read from Stripe.  The
  invoice names it as ``parent.subscription_details.subscription`` (API 2025-03-31 and later) or
  ``subscription`` (older versions), expanded or not.

Like the customer handlers, a re-read happens with no row locked (:mod:`flask_stripe_billing.models.locks`): the row is
found with a plain ``SELECT`` (autoflush off), Stripe is asked, and only then is the row locked (``SELECT ... FOR
UPDATE`` on PostgreSQL) and the times compared.  Signals (``subscription_updated`` / ``subscription_canceled``) are
queued with :func:`~flask_stripe_billing.webhooks.deferred.send_after_commit` and sent once the dispatcher has
committed.

A subscription made elsewhere (Checkout, the Customer Portal, the Dashboard) for a customer of ours is *adopted* on
its ``created`` or ``updated`` event: a row is made for that subscriber, its plan imported from the price when we
do not have it (:func:`~flask_stripe_billing.subscriptions.from_stripe.adopt_subscription`; two deliveries at once
make one row).  A known subscription switched to a price we do not have (in the Portal, say) gets that plan
imported the same way.  Both imports may ask Stripe, so they happen before any row is locked.  Subscriptions of
customers we do not know are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ...core.shapes import expandable_id
from ...core.state import get_state
from ...models import StripeSubscription, StripeWebhook
from ...models.freshness import fetched_now
from ...models.locks import find, find_locked, lock
from ...subscriptions.from_stripe import adopt_subscription, adoptable_customer, apply_with_signals, plan_of
from ..deferred import send_after_commit
from ..events import event_object, event_time

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
)


#: Events that make us adopt a subscription we do not have, when its customer is ours.
ADOPTING_EVENTS = ("customer.subscription.created", "customer.subscription.updated")


def subscription_changed(webhook: StripeWebhook) -> None:
    """Apply the subscription the event carries, unless the row is newer; adopt it if it is new to us."""
    data = event_object(webhook)
    stripe_id = expandable_id(data.get("id"))
    if data.get("object") not in (None, "subscription") or stripe_id is None:
        return
    known = find(StripeSubscription, stripe_subscription_id=stripe_id)
    customer = adoptable_customer(data) if known is None and webhook.type in ADOPTING_EVENTS else None
    if known is None and customer is None:
        return
    plan = plan_of(data)  # imports a price we do not have: may ask Stripe, so before any lock
    subscription = find_locked(StripeSubscription, stripe_subscription_id=stripe_id)
    if subscription is not None:
        _store(subscription, data, event_time(webhook))
    elif customer is not None and plan is not None:
        key = _request_idempotency_key(webhook)
        _, pending = adopt_subscription(data, event_time(webhook), customer=customer, plan=plan, idempotency_key=key)
        for signal, kwargs in pending:
            send_after_commit(signal, StripeSubscription, **kwargs)


def invoice_settled(webhook: StripeWebhook) -> None:
    """A subscription's invoice was paid or failed: re-read the subscription, whose status may have changed."""
    found = find(StripeSubscription, stripe_subscription_id=invoice_subscription_id(event_object(webhook)))
    if found is None:
        return
    assert found.stripe_subscription_id is not None
    seen_at = fetched_now()
    data = get_state().gateway.request("get", f"/v1/subscriptions/{found.stripe_subscription_id}")
    _store(lock(found), data, seen_at)


def invoice_subscription_id(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills: ``parent.subscription_details.subscription`` or ``subscription``."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    if isinstance(details, Mapping) and expandable_id(details.get("subscription")):
        return expandable_id(details.get("subscription"))
    return expandable_id(invoice.get("subscription"))


def _store(subscription: StripeSubscription, data: Mapping[str, Any], seen_at: dt.datetime | None) -> None:
    """Apply *data* to the locked row, and queue the signals reporting the change until the commit."""
    for signal, kwargs in apply_with_signals(subscription, data, seen_at):
        send_after_commit(signal, StripeSubscription, **kwargs)


def _request_idempotency_key(webhook: StripeWebhook) -> str | None:
    """The idempotency key of the API request that caused the event (``request.idempotency_key``), if any."""
    request = (webhook.raw_data or {}).get("request")
    key = request.get("idempotency_key") if isinstance(request, Mapping) else None
    return key if isinstance(key, str) and key else None

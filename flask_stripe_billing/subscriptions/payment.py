"""A subscription's first payment when the bank wants the customer to confirm it (3-D Secure).

Stripe creates the subscription ``incomplete`` and its first invoice open, with a PaymentIntent that requires
action.  :func:`first_payment` reads what the customer's browser needs to confirm it (the invoice's
``confirmation_secret``, or, in API versions before it, the invoice's ``payment_intent``); the billing pages then
run ``stripe.confirmCardPayment`` and re-read the subscription from Stripe
(:func:`~flask_stripe_billing.subscriptions.verbs.refresh_subscription`): active once the payment went through.  A
subscription that stays incomplete can be cancelled (nothing was paid, so nothing is refunded); Stripe itself
expires it after 23 hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.shapes import expandable_id
from ..core.state import get_state
from ..models.subscription import StripeSubscription, SubscriptionStatus
from .from_stripe import require_created, store_and_signal


@dataclass(frozen=True)
class FirstPayment:
    """What the browser needs to confirm a subscription's first payment, and what it is for."""

    #: The PaymentIntent's client secret, for ``stripe.confirmCardPayment`` (it never leaves the page it is on).
    client_secret: str
    #: The amount to pay, in the currency's minor unit.
    amount_due: int
    currency: str
    invoice_id: str | None


def first_payment(subscription: StripeSubscription) -> FirstPayment | None:
    """Re-read *subscription* from Stripe (stored) and return its first payment to confirm, or ``None`` when
    there is none (it is not ``incomplete`` any more, or its invoice has no payment waiting).  Calls Stripe.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe cannot be asked.
    """
    stripe_id = require_created(subscription)
    gateway = get_state().gateway
    data = gateway.request("get", f"/v1/subscriptions/{stripe_id}", {"expand": ["latest_invoice.confirmation_secret"]})
    store_and_signal(subscription, data)
    invoice = data.get("latest_invoice")
    if subscription.status != SubscriptionStatus.INCOMPLETE or not isinstance(invoice, Mapping):
        return None
    secret = _client_secret(invoice)
    if secret is None:
        return None
    return FirstPayment(
        client_secret=secret,
        amount_due=int(invoice.get("amount_due") or 0),
        currency=str(invoice.get("currency") or subscription.plan.currency),
        invoice_id=expandable_id(invoice),
    )


def _client_secret(invoice: Mapping[str, Any]) -> str | None:
    """The client secret of the invoice's PaymentIntent if it waits for the customer (``requires_action``).

    The PaymentIntent is found through ``confirmation_secret`` (current API: its client secret, which starts with
    the PaymentIntent's id) or else ``payment_intent`` (older versions), and read from Stripe for its status: an
    open invoice whose card was declined has a client secret too, but nothing for the customer to confirm.
    """
    intent: Any = invoice.get("payment_intent")
    confirmation = invoice.get("confirmation_secret")
    if isinstance(confirmation, Mapping) and confirmation.get("client_secret"):
        secret = str(confirmation["client_secret"])
        if confirmation.get("type", "payment_intent") != "payment_intent" or "_secret_" not in secret:
            return None
        intent = secret.split("_secret_", 1)[0]
    if isinstance(intent, str) and intent.startswith("pi_"):
        intent = get_state().gateway.request("get", f"/v1/payment_intents/{intent}")
    waiting = isinstance(intent, Mapping) and intent.get("status") in ("requires_action", "requires_confirmation")
    return str(intent["client_secret"]) if waiting and intent.get("client_secret") else None

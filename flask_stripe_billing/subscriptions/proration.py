"""Refunding the unused time of a subscription cancelled under ``STRIPE_PRORATION_POLICY=True``.

A prorated cancellation (``DELETE /v1/subscriptions/{id}`` with ``prorate`` and ``invoice_now``, sent by
:func:`~flask_stripe_billing.subscriptions.verbs.cancel_subscription`) makes Stripe issue a final invoice whose
negative total credits the unused time to the customer's balance.  :func:`refund_unused_time` turns that
credit into money back on the card that paid the last invoice.

Invoices name their payment in two shapes: ``payment_intent`` / ``charge`` at the top level (older API
versions), or records under ``payments`` (API 2025-03-31 and later, where those fields are gone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.shapes import expandable_id, list_data
from ..core.state import get_state
from ..models.subscription import StripeSubscription
from .from_stripe import require_created

#: The API version from which invoices name their payments in ``payments`` (no more ``payment_intent``).
PAYMENTS_ON_INVOICES = "2025-03-31"

#: The fields naming an invoice's payment, on the invoice (older versions) or on a ``payments`` record.
PAYMENT_FIELDS = ("payment_intent", "charge")


def refund_unused_time(subscription: StripeSubscription) -> int:
    """Refund the credit a prorated cancellation left on the customer's balance; return the amount refunded.

    Calls Stripe.  The credit is what the final invoice (``latest_invoice``, made by ``invoice_now``) gives back:
    minus its total.  It is refunded against the newest paid invoice of the subscription that has a payment,
    up to what that invoice took, and the same amount is taken off the customer's credit balance so it is not
    spent twice.  Both requests carry keys derived from the subscription's key and the invoice ids, so calling
    this again (after an error) never refunds twice.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    """
    stripe_id = require_created(subscription)
    gateway = get_state().gateway
    current = gateway.request("get", f"/v1/subscriptions/{stripe_id}")
    final_id = expandable_id(current.get("latest_invoice"))
    if final_id is None:
        return 0
    final = gateway.request("get", f"/v1/invoices/{final_id}")
    credit = -int(final.get("total") or 0)
    if credit <= 0:
        return 0
    paid = _last_paid_invoice(stripe_id, exclude=final_id)
    if paid is None:
        return 0
    invoice, payment = paid
    amount = min(credit, int(invoice.get("amount_paid") or 0))
    if amount <= 0:
        return 0
    base = f"{subscription.idempotency_key}-unused-{final_id}"
    gateway.request(
        "post",
        "/v1/refunds",
        {**payment, "amount": amount, "metadata": {"subscription": stripe_id, "final_invoice": final_id}},
        idempotency_key=f"{base}-refund",
    )
    customer_id = expandable_id(final.get("customer")) or expandable_id(current.get("customer"))
    gateway.request(
        "post",
        f"/v1/customers/{customer_id}/balance_transactions",
        {
            "amount": amount,  # positive: a debit, cancelling the credit just refunded
            "currency": final.get("currency") or subscription.plan.currency,
            "description": f"Unused time of {stripe_id} refunded",
        },
        idempotency_key=f"{base}-balance",
    )
    return amount


def _last_paid_invoice(stripe_id: str, *, exclude: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The newest paid invoice of the subscription and its payment (``{"payment_intent": ...}`` or
    ``{"charge": ...}``)."""
    params: dict[str, Any] = {"subscription": stripe_id, "status": "paid", "limit": 10}
    if get_state().config.api_version >= PAYMENTS_ON_INVOICES:
        params["expand"] = ["data.payments"]  # an error in older versions, where invoices have no `payments`
    page = get_state().gateway.request("get", "/v1/invoices", params)
    for invoice in list_data(page):
        if invoice.get("id") == exclude:
            continue
        payment = _invoice_payment(invoice)
        if payment is not None:
            return invoice, payment
    return None


def _invoice_payment(invoice: Mapping[str, Any]) -> dict[str, str] | None:
    """The payment of an invoice as refund parameters (``{"payment_intent": id}`` or ``{"charge": id}``):
    from the top-level fields (older versions), else from the first ``payments`` record naming one."""
    records = [record.get("payment") for record in list_data(invoice.get("payments")) if isinstance(record, Mapping)]
    for holder in (invoice, *(payment for payment in records if isinstance(payment, Mapping))):
        for name in PAYMENT_FIELDS:
            value = expandable_id(holder.get(name))
            if value:
                return {name: value}
    return None

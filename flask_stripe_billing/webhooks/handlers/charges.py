"""Built-in handlers for charge events: PaymentIntent outcomes, refunds and disputes.

* ``payment_intent.*`` (``succeeded``, ``payment_failed``, ``requires_action``, ``canceled``, ``processing``)
  carries the whole PaymentIntent; it is applied with
  :func:`~flask_stripe_billing.charges.from_stripe.apply_payment_intent` (the function the verbs use) unless the row
  holds newer data.  The row is found by the PaymentIntent's id, or — for a success whose answer our request never
  received (a charge left ``unknown`` or ``in_flight``) — by the ``charge_id`` we put in its metadata.  This is how a
  customer's 3-D Secure confirmation reaches the row.
* ``charge.refunded`` carries the charge: its ``amount_refunded`` (Dashboard refunds included) is taken, and,
  when the event lists the refunds (older API versions), each one we did not make becomes a ``StripeRefund``.
* ``charge.dispute.created`` marks the charge disputed, with the dispute's reason.

Signals (:data:`~flask_stripe_billing.signals.stripe_charge_succeeded` and the others) are sent only after
the dispatcher committed (:func:`~flask_stripe_billing.webhooks.deferred.send_after_commit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...charges import from_stripe
from ...charges.intents import is_intent_for
from ...core.shapes import expandable_id, list_data
from ...core.state import get_state
from ...models import ChargeStatus, RefundStatus, StripeCharge, StripeRefund, StripeWebhook
from ...models.freshness import is_older, remember
from ...models.locks import find_locked
from ...signals import stripe_charge_refunded
from ..deferred import send_after_commit
from ..events import event_object, event_time

PAYMENT_INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.canceled",
    "payment_intent.processing",
)


def payment_intent_changed(webhook: StripeWebhook) -> None:
    """Apply the PaymentIntent of the event to its charge, unless the charge holds newer data."""
    intent = event_object(webhook)
    charge = _charge_for_intent(intent, adopt=webhook.type == "payment_intent.succeeded")
    if charge is None or is_older(charge, event_time(webhook)):
        return
    before = charge.status
    from_stripe.apply_payment_intent(charge, intent, event_time(webhook))
    if charge.status != before:
        charge.claimed_by = charge.claimed_until = None
    pending = from_stripe.signal_for(charge, before)
    if pending is not None:
        send_after_commit(pending[0], StripeCharge, **pending[1])


def charge_refunded(webhook: StripeWebhook) -> None:
    """Take Stripe's refunded amount, and record refunds made elsewhere (the Dashboard)."""
    data = event_object(webhook)
    charge = _locked_charge(expandable_id(data.get("id")), data)
    if charge is None or is_older(charge, event_time(webhook)):
        return
    from_stripe.apply_refunded(charge, data)
    for item in list_data(data.get("refunds")):
        if isinstance(item, Mapping):
            _record_refund(webhook, charge, item)


def charge_disputed(webhook: StripeWebhook) -> None:
    """Mark the disputed charge, with the dispute's reason."""
    dispute = event_object(webhook)
    charge = _locked_charge(expandable_id(dispute.get("charge")), dispute)
    if charge is None:
        return
    charge.is_disputed = True
    reason = dispute.get("reason")
    charge.dispute_reason = reason[:100] if isinstance(reason, str) else None


def _charge_for_intent(intent: Mapping[str, Any], *, adopt: bool) -> StripeCharge | None:
    charge = find_locked(StripeCharge, stripe_payment_intent_id=expandable_id(intent.get("id")))
    if charge is not None or not adopt:
        return charge
    metadata = intent.get("metadata")
    charge_id = metadata.get("charge_id") if isinstance(metadata, Mapping) else None
    if not isinstance(charge_id, str) or not charge_id.isdigit():
        return None
    charge = find_locked(StripeCharge, id=int(charge_id))
    # Only a charge whose own answer was lost (same money, same customer): never one a new attempt may be charging.
    if (
        charge is None
        or charge.stripe_payment_intent_id is not None
        or charge.status not in (ChargeStatus.UNKNOWN, ChargeStatus.IN_FLIGHT)
        or not is_intent_for(charge, intent)
    ):
        return None
    return charge


def _locked_charge(stripe_charge_id: str | None, obj: Mapping[str, Any]) -> StripeCharge | None:
    """The charge with *stripe_charge_id* or the PaymentIntent *obj* names, locked
    (:func:`~flask_stripe_billing.models.locks.find_locked`)."""
    payment_intent_id = expandable_id(obj.get("payment_intent"))
    return find_locked(StripeCharge, stripe_charge_id=stripe_charge_id, stripe_payment_intent_id=payment_intent_id)


def _record_refund(webhook: StripeWebhook, charge: StripeCharge, item: Mapping[str, Any]) -> None:
    """Match a listed refund to our row (by id, or the ``refund_id`` we sent in its metadata), or record it."""
    session = get_state().db.session
    refund_id = expandable_id(item.get("id"))
    if refund_id is None:
        return
    metadata = item.get("metadata")
    ours = metadata.get("refund_id") if isinstance(metadata, Mapping) else None
    row = session.scalars(sa.select(StripeRefund).where(StripeRefund.stripe_refund_id == refund_id)).first()
    if row is None and isinstance(ours, str) and ours.isdigit():
        row = session.get(StripeRefund, int(ours))
    status = item.get("status")
    if row is None:
        amount = item.get("amount")
        if not isinstance(amount, int) or amount <= 0:
            return
        row = StripeRefund(charge_id=charge.id, amount=amount, currency=charge.currency)
        session.add(row)
        send_after_commit(stripe_charge_refunded, StripeCharge, instance=charge, refund=row)
    row.stripe_refund_id = refund_id
    if status in set(RefundStatus):
        row.status = status
    remember(row, item, event_time(webhook))

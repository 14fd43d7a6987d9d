"""Storing what a completed Checkout Session made: the subscription, the payment, or the saved card.

The return page (``GET <prefix>/checkout/return``) and the ``checkout.session.*`` webhook handlers both read the
session from Stripe with what it made expanded (:func:`read_session`) and store it with :func:`store_session`,
so that the payer sees the result without waiting for the webhook and either may come first:

* ``subscription`` mode: the subscription is adopted for the subscriber whose customer it is
  (:func:`~flask_stripe_billing.subscriptions.from_stripe.adopt_subscription`: one row per Stripe id, however
  many times and however concurrently it is stored), its plan imported when its price is new to us;
* ``payment`` mode: the PaymentIntent is stored on the ``StripeCharge`` it pays (the pay page puts the charge's
  id in its metadata) or on a new one, with the functions of :mod:`flask_stripe_billing.charges.from_stripe`;
* ``setup`` mode: the card becomes the customer's default when it has none, and the customer's cards are read.

Stripe is asked everything first and rows are locked only after, so no lock is held across a request.
Sessions of customers we do not know, and sessions not complete (``open``, ``expired``), store nothing, except
that an expired session gives back the charge it was opened for (:func:`release_expired_session`): the pay page
claims a charge for its session (:mod:`flask_stripe_billing.charges.checkout_claims`) so that it is not charged
off-session meanwhile, and the claim ends with the session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from blinker import Signal

from ..charges.checkout_claims import drop_checkout_claim, release_checkout
from ..charges.from_stripe import apply_payment_intent, signal_for
from ..charges.intents import is_intent_for
from ..core.notify import send_committed
from ..core.shapes import could_be_stripe_id, expandable_id
from ..core.state import get_state
from ..customers.from_stripe import apply_stripe_customer, read_customer
from ..models.charge import ChargeStatus, StripeCharge
from ..models.customer import StripeCustomer
from ..models.freshness import fetched_now, is_older
from ..models.locks import find, find_locked, insert_once, lock
from ..models.subscription import StripeSubscription
from ..subscriptions.from_stripe import adopt_subscription, plan_of

#: What :func:`read_session` expands: whatever the session made.
SESSION_EXPAND = ("subscription", "payment_intent", "payment_intent.latest_charge", "setup_intent")

#: A signal to send once committed: ``(signal, sender, keyword arguments)``.
Pending = tuple[Signal, Any, dict[str, Any]]


@dataclass(frozen=True)
class CheckoutResult:
    """What a Checkout Session made, as stored."""

    #: The session's id (``cs_...``).
    session_id: str
    #: ``subscription``, ``payment`` or ``setup``.
    mode: str | None
    #: The session's ``status``: ``open``, ``complete`` or ``expired``.
    status: str | None
    #: The session's ``payment_status``: ``paid``, ``unpaid`` (an asynchronous payment still on its way) or
    #: ``no_payment_required``.
    payment_status: str | None
    #: The customer the session was for (``None``: not one of ours).
    customer: StripeCustomer | None = None
    subscription: StripeSubscription | None = None
    charge: StripeCharge | None = None

    @property
    def is_complete(self) -> bool:
        """Whether the customer finished the page."""
        return self.status == "complete"

    @property
    def is_paid(self) -> bool:
        """Whether it is complete and nothing is left to pay."""
        return self.is_complete and self.payment_status in ("paid", "no_payment_required")


def read_session(session_id: str) -> dict[str, Any]:
    """The Checkout Session as Stripe has it now, with its subscription, PaymentIntent and SetupIntent expanded.

    :raises flask_stripe_billing.errors.InvalidRequestError: ``is_missing`` for a session Stripe does not know.
    """
    return get_state().gateway.request("get", f"/v1/checkout/sessions/{session_id}", {"expand": list(SESSION_EXPAND)})


def session_customer(data: Mapping[str, Any]) -> StripeCustomer | None:
    """Our customer the session is for (it names the subscriber), or ``None``.  Reads only the database."""
    stripe_id = expandable_id(data.get("customer"))
    customer = find(StripeCustomer, stripe_customer_id=stripe_id) if could_be_stripe_id(stripe_id) else None
    return customer if customer is not None and customer.subscriber_id is not None else None


def store_session(data: Mapping[str, Any], seen_at: dt.datetime | None = None) -> tuple[CheckoutResult, list[Pending]]:
    """Store what the session *data* (as :func:`read_session` gives it) made; return it and the signals to send
    once committed.  Does not commit; may ask Stripe, so call it with no row locked.

    Idempotent: storing a session again (the return page and every webhook) finds the rows it made.
    """
    customer = session_customer(data)
    result = CheckoutResult(
        session_id=str(data.get("id")),
        mode=_text(data.get("mode")),
        status=_text(data.get("status")),
        payment_status=_text(data.get("payment_status")),
        customer=customer,
    )
    if result.status == "expired":
        release_expired_session(data)
        return result, []
    if customer is None or not result.is_complete:
        return result, []
    seen_at = seen_at or fetched_now()
    # The card the payer gave is read now (no row locked yet), so that the account page shows it at once.
    _store_customer(customer, _read_customer_cards(customer, data.get("setup_intent")))
    if result.mode == "subscription":
        subscription, pending = _store_subscription(data.get("subscription"), customer, seen_at)
        return replace(result, subscription=subscription), pending
    if result.mode == "payment":
        charge, pending = _store_payment(data.get("payment_intent"), customer, seen_at)
        return replace(result, charge=charge), pending
    return result, []


def complete_session(data: Mapping[str, Any]) -> CheckoutResult:
    """:func:`store_session`, committed, then the signals sent (the return page's way)."""
    result, pending = store_session(data)
    get_state().db.session.commit()
    send_pending(pending)
    return result


def release_expired_session(data: Mapping[str, Any]) -> StripeCharge | None:
    """Give back the charge an expired, unpaid session *data* was opened for (``pending`` again, or ``failed``
    after a declined attempt), so that it can be paid again or charged; return it, or ``None`` when no charge
    waits for that session.  Locks the row; does not commit; asks Stripe nothing (an expired session stays so).
    """
    session_id = expandable_id(data.get("id"))
    if data.get("status") != "expired" or not could_be_stripe_id(session_id):
        return None
    charge = find(StripeCharge, stripe_checkout_session_id=session_id)
    if charge is None or not release_checkout(charge, str(session_id)):
        return None
    return charge


def send_pending(pending: list[Pending]) -> None:
    """Send signals returned by :func:`store_session` (after the commit)."""
    for signal, sender, kwargs in pending:
        send_committed(signal, sender, **kwargs)


def _store_subscription(
    value: Any, customer: StripeCustomer, seen_at: dt.datetime
) -> tuple[StripeSubscription | None, list[Pending]]:
    stripe_id = expandable_id(value)
    if stripe_id is None:
        return None, []
    data = value if isinstance(value, Mapping) else get_state().gateway.request("get", f"/v1/subscriptions/{stripe_id}")
    plan = plan_of(data)  # may ask Stripe: before any lock
    if plan is None:
        return find_locked(StripeSubscription, stripe_subscription_id=stripe_id), []
    row, pending = adopt_subscription(data, seen_at, customer=customer, plan=plan)
    return row, [(signal, StripeSubscription, kwargs) for signal, kwargs in pending]


def _store_payment(
    value: Any, customer: StripeCustomer, seen_at: dt.datetime
) -> tuple[StripeCharge | None, list[Pending]]:
    intent_id = expandable_id(value)
    if intent_id is None:
        return None, []  # nothing to pay (a 100% discount)
    intent: Mapping[str, Any] = value
    if not isinstance(value, Mapping):
        intent = get_state().gateway.request("get", f"/v1/payment_intents/{intent_id}", {"expand": ["latest_charge"]})
    charge = find_locked(StripeCharge, stripe_payment_intent_id=intent_id) or _charge_paid_for(intent, customer)
    if charge is None:
        amount, currency = intent.get("amount"), intent.get("currency")
        if not isinstance(amount, int) or amount <= 0 or not isinstance(currency, str):
            return None, []
        description = intent.get("description")
        values = {
            "subscriber_id": customer.subscriber_id,
            "customer_id": customer.id,
            "amount": amount,
            "currency": currency.lower()[:3],
            "description": description if isinstance(description, str) else None,
            # Never pending: ``flask stripe charge`` must not charge it again; it re-reads one in flight.
            "status": ChargeStatus.IN_FLIGHT,
            "stripe_payment_intent_id": intent_id,
        }
        insert_once(StripeCharge, values, "stripe_payment_intent_id")
        charge = find_locked(StripeCharge, stripe_payment_intent_id=intent_id)
        assert charge is not None
    if is_older(charge, seen_at):
        return charge, []
    before = charge.status
    charge.customer_id = charge.customer_id or customer.id
    apply_payment_intent(charge, intent, seen_at)
    drop_checkout_claim(charge)
    pending = signal_for(charge, before)
    return charge, [] if pending is None else [(pending[0], StripeCharge, pending[1])]


def _charge_paid_for(intent: Mapping[str, Any], customer: StripeCustomer) -> StripeCharge | None:
    """The subscriber's unpaid charge the PaymentIntent pays (its ``charge_id`` metadata, the same money), locked."""
    metadata = intent.get("metadata")
    charge_id = metadata.get("charge_id") if isinstance(metadata, Mapping) else None
    if not isinstance(charge_id, str) or not charge_id.isdigit() or len(charge_id) > 10:
        return None
    charge = find_locked(StripeCharge, id=int(charge_id))
    if (
        charge is None
        or charge.subscriber_id != customer.subscriber_id
        or charge.is_charged
        or charge.stripe_payment_intent_id not in (None, expandable_id(intent.get("id")))
        or not is_intent_for(charge, intent)
    ):
        return None
    return charge


def _read_customer_cards(customer: StripeCustomer, setup_intent: Any) -> tuple[dict[str, Any], dt.datetime] | None:
    """The customer at Stripe with its cards, and when it was read; a card a setup session saved is made the
    default first when the customer has none.  Calls Stripe: no row may be locked."""
    stripe_customer_id = customer.stripe_customer_id
    if stripe_customer_id is None:
        return None
    seen_at = fetched_now()
    data = read_customer(stripe_customer_id)
    method = expandable_id(setup_intent.get("payment_method")) if isinstance(setup_intent, Mapping) else None
    settings = data.get("invoice_settings")
    has_default = isinstance(settings, Mapping) and settings.get("default_payment_method")
    if method and not has_default and not data.get("default_source") and not data.get("deleted"):
        gateway = get_state().gateway
        gateway.request(
            "post",
            f"/v1/customers/{stripe_customer_id}",
            {"invoice_settings": {"default_payment_method": method}},
            idempotency_key=gateway.new_idempotency_key("customer", "default_payment_method"),
            object_type="customer",
            action="update",
        )
        seen_at = fetched_now()
        data = read_customer(stripe_customer_id)
    return data, seen_at


def _store_customer(customer: StripeCustomer, read: tuple[dict[str, Any], dt.datetime] | None) -> None:
    """Apply what :func:`_read_customer_cards` read, unless the row holds newer data.  Locks the customer."""
    if read is None:
        return
    data, seen_at = read
    locked = lock(customer)
    if not is_older(locked, seen_at):
        apply_stripe_customer(locked, data, seen_at)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

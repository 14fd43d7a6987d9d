"""Customers and cards: creating a subscriber's customer at Stripe, refreshing it, adding cards.

Every verb follows the same order: Stripe first, then a short commit, then signals.  No Stripe request is
sent while the session holds uncommitted writes, so no row lock is held across a network call.  Two card
flows are accepted wherever a card is added: a Stripe.js token (``tok_...``) and a payment method
(``pm_...``), typically confirmed through a SetupIntent.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import errors, signals
from ..core.notify import send_committed
from ..core.shapes import expandable_id
from ..core.state import get_state
from ..models.base import subscriber_key
from ..models.customer import StripeCustomer
from ..models.freshness import fetched_now
from .from_stripe import _fetch, apply_stripe_customer, read_customer


def create_customer(subscriber: Any, token_or_payment_method: str) -> StripeCustomer:
    """Create a Stripe customer for *subscriber* with one card, and store it.

    The row and its idempotency key are committed before the request is sent, so a retry reuses the key.
    On success the subscriber's older active customers are deactivated and
    :data:`~flask_stripe_billing.signals.customer_created` is sent after the commit.

    :param token_or_payment_method: a Stripe.js token id (``tok_...``) or a payment method id (``pm_...``).
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses; the row is then left with
        ``is_active=False``.
    """
    state = get_state()
    customer = StripeCustomer(
        subscriber_id=subscriber_key(subscriber),
        idempotency_key=state.gateway.new_idempotency_key("customer", "create"),
    )
    state.db.session.add(customer)
    state.db.session.commit()
    try:
        data = _create_at_stripe(customer, subscriber, token_or_payment_method)
    except errors.BillingError:
        customer.is_active = False
        state.db.session.commit()
        raise
    apply_stripe_customer(customer, data)
    customer.is_created_at_stripe = True
    _deactivate_older_customers(customer)
    state.db.session.commit()
    send_committed(signals.customer_created, StripeCustomer, instance=customer)
    return customer


def refresh_customer(customer: StripeCustomer) -> StripeCustomer:
    """Bring ``sources`` and ``default_source`` of *customer* up to date from Stripe, and commit.

    A customer deleted at Stripe (a 404 ``resource_missing``, or ``deleted: true``) is marked inactive, not deleted.
    """
    state = get_state()
    if not customer.stripe_customer_id:
        raise errors.CustomerError(f"{customer!r} was not created at Stripe.")
    seen_at = fetched_now()
    apply_stripe_customer(customer, read_customer(customer.stripe_customer_id), seen_at)
    state.db.session.commit()
    return customer


def add_new_source(customer: StripeCustomer, token_or_payment_method: str) -> StripeCustomer:
    """Add a card to *customer* at Stripe, make it the default, and store the refreshed customer.

    :raises flask_stripe_billing.errors.CardError: when the card is declined.
    """
    if not customer.stripe_customer_id:
        raise errors.CustomerError(f"{customer!r} was not created at Stripe.")
    _attach(customer.stripe_customer_id, token_or_payment_method)
    return refresh_customer(customer)


def set_default_source(customer: StripeCustomer, source_id: str) -> StripeCustomer:
    """Make *source_id*, one of ``customer.sources``, the default card at Stripe, and store it.

    :raises flask_stripe_billing.errors.CustomerError: when *source_id* is not one of the customer's cards.
    """
    if source_id not in customer.card_ids:
        raise errors.CustomerError(f"{source_id!r} is not a card of this customer.")
    assert customer.stripe_customer_id is not None
    get_state().gateway.request(
        "post",
        f"/v1/customers/{customer.stripe_customer_id}",
        _default_params(source_id),
        object_type="customer",
        action="update",
    )
    return refresh_customer(customer)


def _create_at_stripe(customer: StripeCustomer, subscriber: Any, token_or_payment_method: str) -> dict[str, Any]:
    """POST the customer (with its stored key), attach the card, and return the customer as Stripe sees it."""
    gateway = get_state().gateway
    # The metadata lets a customer be linked back to its subscriber from the Stripe Dashboard or a later import.
    metadata = {"subscriber_id": str(customer.subscriber_id), "subscriber_type": type(subscriber).__name__}
    params: dict[str, Any] = {"metadata": metadata}
    email = getattr(subscriber, "email", None)
    if email:
        params["email"] = email
        metadata["subscriber_email"] = str(email)
    is_token = not token_or_payment_method.startswith("pm_")
    if not is_token:
        check_payment_method_is_free(token_or_payment_method, None)
    if is_token:
        params["source"] = token_or_payment_method
    created = gateway.request("post", "/v1/customers", params, idempotency_key=customer.idempotency_key)
    customer.stripe_customer_id = created["id"]
    if is_token:
        return _fetch(created["id"])
    _attach(created["id"], token_or_payment_method, owner_checked=True)
    return _fetch(created["id"])


def _attach(stripe_customer_id: str, token_or_payment_method: str, *, owner_checked: bool = False) -> None:
    """Attach a token's card or a payment method to a Stripe customer and make it the default."""
    gateway = get_state().gateway
    if token_or_payment_method.startswith("pm_"):
        if not owner_checked:
            check_payment_method_is_free(token_or_payment_method, stripe_customer_id)
        gateway.request(
            "post",
            f"/v1/payment_methods/{token_or_payment_method}/attach",
            {"customer": stripe_customer_id},
            object_type="payment_method",
            action="attach",
        )
        default = token_or_payment_method
    else:
        source = gateway.request(
            "post",
            f"/v1/customers/{stripe_customer_id}/sources",
            {"source": token_or_payment_method},
            object_type="source",
            action="create",
        )
        default = source["id"]
    gateway.request(
        "post",
        f"/v1/customers/{stripe_customer_id}",
        _default_params(default),
        object_type="customer",
        action="update",
    )


def check_payment_method_is_free(payment_method_id: str, stripe_customer_id: str | None) -> None:
    """Refuse a payment method already attached to another Stripe customer than *stripe_customer_id*.

    :raises flask_stripe_billing.errors.InvalidRequestError: when it belongs to someone else (or is unknown).
    """
    method = get_state().gateway.request("get", f"/v1/payment_methods/{payment_method_id}")
    owner = expandable_id(method.get("customer"))
    if owner and owner != stripe_customer_id:
        raise errors.InvalidRequestError(
            f"Payment method {payment_method_id} is attached to another customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
            http_status=400,
        )


def _default_params(source_id: str) -> dict[str, Any]:
    """Update parameters making *source_id* the default card (payment method or card source).

    A card source becomes the default only once the default payment method is unset (an empty string),
    since Stripe prefers ``invoice_settings.default_payment_method`` over ``default_source``.
    """
    if source_id.startswith("pm_"):
        return {"invoice_settings": {"default_payment_method": source_id}}
    return {"default_source": source_id, "invoice_settings": {"default_payment_method": ""}}


def _deactivate_older_customers(customer: StripeCustomer) -> None:
    """Mark the subscriber's other active customers inactive (in the current transaction)."""
    get_state().db.session.execute(
        sa.update(StripeCustomer)
        .where(
            StripeCustomer.subscriber_id == customer.subscriber_id,
            StripeCustomer.id != customer.id,
            StripeCustomer.is_active.is_(True),
        )
        .values(is_active=False)
    )

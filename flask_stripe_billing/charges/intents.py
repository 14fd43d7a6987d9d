"""The requests about a charge's PaymentIntent: what is sent, reading it back, and finding one whose answer was lost.

What Stripe's answers mean for the row is read in :mod:`flask_stripe_billing.charges.from_stripe`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..core.shapes import expandable_id, list_data
from ..core.state import get_state
from ..models.base import utcnow
from ..models.charge import StripeCharge
from ..models.customer import StripeCustomer

#: Stripe keeps an idempotency key for at least 24 hours.  A key older than this is not replayed blindly: the
#: PaymentIntent it may have made is looked for first (:func:`find_payment_intent`).
KEY_REPLAY_WINDOW = dt.timedelta(hours=23)


def payment_intent_params(charge: StripeCharge, customer: StripeCustomer) -> dict[str, Any]:
    """The parameters of the PaymentIntent for *charge*: the same for every attempt with one key."""
    metadata = {"charge_id": str(charge.id)}
    if charge.subscriber_id is not None:
        metadata["subscriber_id"] = str(charge.subscriber_id)
    if charge.source_type:
        metadata["source_type"] = charge.source_type
    if charge.source_id:
        metadata["source_id"] = str(charge.source_id)
    params: dict[str, Any] = {
        "amount": charge.amount,
        "currency": charge.currency.lower(),
        "customer": customer.stripe_customer_id,
        "confirm": True,
        "off_session": True,
        # Cards only: with automatic payment methods Stripe would ask for a return_url, useless off-session.
        "payment_method_types": ["card"],
        "metadata": metadata,
        "expand": ["latest_charge"],
    }
    if customer.default_source:
        # A payment method (pm_...) or a card or source saved the older way (card_..., src_...): both are
        # accepted as payment_method.
        params["payment_method"] = customer.default_source
    if charge.description:
        params["description"] = charge.description
    if charge.statement_descriptor:
        # Card payments take only a suffix (to the account's prefix) since API 2024-02: a full
        # ``statement_descriptor`` is refused for cards.
        params["statement_descriptor_suffix"] = charge.statement_descriptor
    return params


def fetch_payment_intent(charge: StripeCharge) -> dict[str, Any]:
    """The charge's PaymentIntent as Stripe has it now, with its latest charge expanded."""
    return get_state().gateway.request(
        "get", f"/v1/payment_intents/{charge.stripe_payment_intent_id}", {"expand": ["latest_charge"]}
    )


def key_may_be_forgotten(charge: StripeCharge) -> bool:
    """Whether Stripe may no longer know the charge's idempotency key (see :data:`KEY_REPLAY_WINDOW`)."""
    created = charge.idempotency_key_created_at
    return created is None or utcnow() - created > KEY_REPLAY_WINDOW


def find_payment_intent(charge: StripeCharge) -> dict[str, Any] | None:
    """The PaymentIntent made for *charge* (by the ``charge_id`` in its metadata), found with Stripe's search.

    Used before replaying a key Stripe may have forgotten (older than :data:`KEY_REPLAY_WINDOW`): a replay would
    then not be recognised, and would charge a second time if the first request had gone through.
    """
    query = f"metadata['charge_id']:'{charge.id}'"
    result = get_state().gateway.request("get", "/v1/payment_intents/search", {"query": query, "limit": 10})
    for intent in list_data(result):
        if isinstance(intent, Mapping) and is_intent_for(charge, intent):
            return dict(intent)
    return None


def is_intent_for(charge: StripeCharge, intent: Mapping[str, Any]) -> bool:
    """Whether *intent* is the one made for *charge*: its ``charge_id`` metadata, and the same money and customer.

    Row ids are not unique across a Stripe account (another application, a staging copy), so the metadata
    alone does not make a PaymentIntent ours.
    """
    metadata = intent.get("metadata")
    customer = charge.customer
    return (
        isinstance(metadata, Mapping)
        and metadata.get("charge_id") == str(charge.id)
        and intent.get("amount") == charge.amount
        and str(intent.get("currency", "")).lower() == charge.currency.lower()
        and (customer is None or expandable_id(intent.get("customer")) == customer.stripe_customer_id)
    )

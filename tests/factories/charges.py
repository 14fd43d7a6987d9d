"""Customers with a card, charge rows, and what the offline Stripe holds for them."""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import StripeCharge, StripeCustomer
from flask_stripe_billing.offline import OFFLINE_PUBLISHABLE_KEY, OfflineStripe
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.cards import GOOD_CARD, make_payment_method


def customer_with(user: hostapp.User, number: str = GOOD_CARD, *, flow: str = "payment_method") -> StripeCustomer:
    """*user*'s customer at Stripe, with card *number* saved as a payment method (or, ``flow="token"``, a
    card source)."""
    card = make_payment_method(number) if flow == "payment_method" else create_card_token(number)
    return create_customer(user, card)


def new_charge(db: SQLAlchemy, user: hostapp.User, amount: int = 1500, **fields: Any) -> StripeCharge:
    """A pending charge row for *user* (``usd`` unless *fields* say otherwise), committed, not sent."""
    row = StripeCharge(subscriber_id=user.id, amount=amount, currency=fields.pop("currency", "usd"), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def intents_for(charge_id: int) -> list[dict[str, Any]]:
    """The PaymentIntents the Stripe server holds for one charge row (by the metadata we send)."""
    gateway = get_state().gateway
    return [pi for pi in gateway.list_all("/v1/payment_intents") if pi["metadata"].get("charge_id") == str(charge_id)]


def authenticate(offline_stripe: OfflineStripe, charge: StripeCharge, *, success: bool = True) -> None:
    """What Stripe.js does when the customer passes (or fails) 3-D Secure in its modal (the offline Stripe's
    stand-in for it)."""
    assert charge.stripe_payment_intent_id
    request = urllib.request.Request(  # noqa: S310 - the local offline Stripe
        f"{offline_stripe.url}/v1/payment_intents/{charge.stripe_payment_intent_id}/_authenticate"
        f"?success={'true' if success else 'false'}",
        data=urllib.parse.urlencode(
            {"key": OFFLINE_PUBLISHABLE_KEY, "client_secret": charge.payment_intent_client_secret}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass

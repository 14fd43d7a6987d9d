"""Stripe's test cards, and payment methods made from them through the current app's gateway.

Card tokens come from :func:`flask_stripe_billing.testing.create_card_token`.
"""

from __future__ import annotations

from flask_stripe_billing.core.state import get_state

GOOD_CARD = "4242424242424242"
#: Declined when it is attached to a customer.
DECLINED_CARD = "4000000000000002"
#: Attaches to a customer, then every charge is declined (Stripe's test card, and localstripe's).
DECLINED_ON_CHARGE = "4000000000000341"
#: Every payment needs 3-D Secure.
SCA_CARD = "4000002760003184"


def make_payment_method(number: str = GOOD_CARD) -> str:
    """A card payment method (``pm_...``), as Stripe.js would hand the page after ``confirmCardSetup``."""
    card = {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    method = get_state().gateway.request(
        "post", "/v1/payment_methods", {"type": "card", "card": card}, object_type="payment_method", action="create"
    )
    return str(method["id"])

"""Checkout and the Customer Portal: Stripe's hosted pages for paying, subscribing, saving a card and managing
billing.

Read in this order: :mod:`.sessions` (creating a Checkout Session, everything checked first), :mod:`.customer`
(the subscriber's customer, made once however many sessions start at once), :mod:`.complete` (what a completed
session made -> rows, from the return page or the webhook, idempotent), :mod:`.portal` (Customer Portal sessions).
"""

from .complete import SESSION_EXPAND, CheckoutResult, complete_session, read_session, session_customer, store_session
from .customer import checkout_customer
from .portal import billing_portal_url
from .sessions import (
    MODES,
    CheckoutSession,
    create_checkout_session,
    default_cancel_url,
    default_success_url,
)

__all__ = [
    "MODES",
    "SESSION_EXPAND",
    "CheckoutResult",
    "CheckoutSession",
    "billing_portal_url",
    "checkout_customer",
    "complete_session",
    "create_checkout_session",
    "default_cancel_url",
    "default_success_url",
    "read_session",
    "session_customer",
    "store_session",
]

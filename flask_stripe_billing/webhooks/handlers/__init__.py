"""The built-in handlers, one module per kind of object, and the one table from event type to handler.

A handler reads the event's object (:mod:`flask_stripe_billing.webhooks.events`), finds the local row by Stripe
id and locks it (:mod:`flask_stripe_billing.models.locks`), and applies the object with the same function the
verbs use (``apply_stripe_*`` in each domain's ``from_stripe.py``), unless the row already holds newer data
(:func:`flask_stripe_billing.models.freshness.is_older`).  It changes rows in the session without committing:
the dispatcher commits once, with the event's status.  An event about an object we do not mirror is ignored.

Handlers an application adds with :func:`~flask_stripe_billing.webhooks.handles` run after these.
"""

from __future__ import annotations

from ..registry import Handler
from . import charges, checkout, coupons, customers, plans, subscriptions

#: Every event type the extension processes itself, and the function that does it.
BUILTIN_HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(customers.CARD_EVENTS, customers.card_changed),
    "customer.updated": customers.customer_updated,
    "customer.deleted": customers.customer_deleted,
    "coupon.created": coupons.coupon_changed,
    "coupon.updated": coupons.coupon_changed,
    "coupon.deleted": coupons.coupon_deleted,
    **dict.fromkeys(plans.PRICE_EVENTS, plans.price_changed),
    "price.deleted": plans.price_deleted,
    **dict.fromkeys(plans.PRODUCT_EVENTS, plans.product_changed),
    "product.deleted": plans.product_deleted,
    **dict.fromkeys(subscriptions.SUBSCRIPTION_EVENTS, subscriptions.subscription_changed),
    "invoice.paid": subscriptions.invoice_settled,
    "invoice.payment_failed": subscriptions.invoice_settled,
    **dict.fromkeys(charges.PAYMENT_INTENT_EVENTS, charges.payment_intent_changed),
    "charge.refunded": charges.charge_refunded,
    "charge.dispute.created": charges.charge_disputed,
    **dict.fromkeys(checkout.CHECKOUT_EVENTS, checkout.checkout_session_changed),
}

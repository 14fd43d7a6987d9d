"""Subscriptions: subscribing, confirming a first payment, cancelling, switching plans, ending expired ones.

Read in this order: :mod:`.verbs` (predicates, refresh, cancel, change plan), :mod:`.create` (subscribe),
:mod:`.payment` (a first invoice that needs 3-D Secure), :mod:`.proration` (refunding unused time),
:mod:`.expiry` (``flask stripe end-subscriptions``), :mod:`.from_stripe` (Stripe subscription -> row).
"""

from .create import awaiting_first_payment, check_plan, create_subscription, subscribe
from .expiry import CANCELLABLE_STATUSES, end_subscriptions, get_subscriptions_for_cancel
from .from_stripe import (
    WATCHED_FIELDS,
    apply_stripe_subscription,
    apply_with_signals,
    require_created,
    store_and_signal,
)
from .payment import FirstPayment, first_payment
from .proration import PAYMENT_FIELDS, PAYMENTS_ON_INVOICES, refund_unused_time
from .verbs import (
    active_subscription,
    cancel_subscription,
    cancels_at_period_end,
    change_plan,
    is_subscribed,
    refresh_subscription,
)

__all__ = [
    "CANCELLABLE_STATUSES",
    "PAYMENTS_ON_INVOICES",
    "PAYMENT_FIELDS",
    "WATCHED_FIELDS",
    "FirstPayment",
    "active_subscription",
    "apply_stripe_subscription",
    "apply_with_signals",
    "awaiting_first_payment",
    "cancel_subscription",
    "cancels_at_period_end",
    "change_plan",
    "check_plan",
    "create_subscription",
    "end_subscriptions",
    "first_payment",
    "get_subscriptions_for_cancel",
    "is_subscribed",
    "refresh_subscription",
    "refund_unused_time",
    "require_created",
    "store_and_signal",
    "subscribe",
]

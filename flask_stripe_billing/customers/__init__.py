"""Customers and cards: a subscriber's Stripe customer, its cards and its default card.

Read in this order: :mod:`.verbs` (create, refresh, add a card; Stripe first, a short commit, then signals),
:mod:`.from_stripe` (Stripe customer -> row), :mod:`.refresh` (``flask stripe refresh-customers``).
"""

from .from_stripe import (
    SUMMARY_FIELDS,
    apply_stripe_customer,
    default_source_id,
    has_card_list,
    read_customer,
    summarize_card,
    summarize_sources,
)
from .refresh import TRANSIENT_ERRORS, refresh_all_customers
from .verbs import add_new_source, check_payment_method_is_free, create_customer, refresh_customer, set_default_source

__all__ = [
    "SUMMARY_FIELDS",
    "TRANSIENT_ERRORS",
    "add_new_source",
    "apply_stripe_customer",
    "check_payment_method_is_free",
    "create_customer",
    "default_source_id",
    "has_card_list",
    "read_customer",
    "refresh_all_customers",
    "refresh_customer",
    "set_default_source",
    "summarize_card",
    "summarize_sources",
]

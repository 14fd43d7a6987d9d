"""Coupons, kept in sync with Stripe both ways.

Read in this order: :mod:`.lookup` (the queries), :mod:`.verbs` (create, update, delete at Stripe),
:mod:`.from_stripe` (Stripe coupon -> row, and ``flask stripe refresh-coupons``).
"""

from .from_stripe import apply_stripe_coupon, new_coupon_from_stripe, refresh_coupons
from .lookup import coupon_json, coupon_query, get_live_coupon, live_coupons, resolve_coupon
from .verbs import (
    CREATE_FIELDS,
    create_coupon,
    create_coupon_row,
    delete_coupon,
    refresh_coupon,
    update_coupon,
    validate_coupon_fields,
)

__all__ = [
    "CREATE_FIELDS",
    "apply_stripe_coupon",
    "coupon_json",
    "coupon_query",
    "create_coupon",
    "create_coupon_row",
    "delete_coupon",
    "get_live_coupon",
    "live_coupons",
    "new_coupon_from_stripe",
    "refresh_coupon",
    "refresh_coupons",
    "resolve_coupon",
    "update_coupon",
    "validate_coupon_fields",
]

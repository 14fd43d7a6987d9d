"""Plans: the catalogue, kept as Stripe Prices.

A plan (:class:`~flask_stripe_billing.models.StripeSubscriptionPlan`) is one recurring Price of one Product.

* :func:`create_plan` (``plan.create_at_stripe()``) makes the product and the price at Stripe;
* :func:`resolve_plan` turns a row, a Price id or a lookup key into the plan row, importing a price not known
  here; every verb taking a plan calls it, so ``user.subscribe("pro_monthly")`` works;
* :func:`plan_from_stripe_price` stores a Stripe Price as a plan (used by the ``price.*`` / ``product.*``
  webhooks and :func:`refresh_plans`, behind ``flask stripe refresh-plans``).
"""

from . import create
from .create import create_plan, price_params, validate_plan
from .from_stripe import apply_stripe_price, apply_stripe_product, is_plan_price, plan_from_stripe_price
from .lookup import find_plan, resolve_plan
from .refresh import refresh_plans

#: The longest billing interval Stripe allows, per interval: three years (``recurring[interval_count]``).
MAX_INTERVAL_COUNT = create.MAX_INTERVAL_COUNT

#: The longest trial Stripe allows, in days.
MAX_TRIAL_PERIOD_DAYS = create.MAX_TRIAL_PERIOD_DAYS

__all__ = [
    "MAX_INTERVAL_COUNT",
    "MAX_TRIAL_PERIOD_DAYS",
    "apply_stripe_price",
    "apply_stripe_product",
    "create_plan",
    "find_plan",
    "is_plan_price",
    "plan_from_stripe_price",
    "price_params",
    "refresh_plans",
    "resolve_plan",
    "validate_plan",
]

"""Built-in handlers for catalogue events: keep ``StripeSubscriptionPlan`` rows as the Dashboard leaves prices.

* ``price.created`` / ``price.updated`` apply the price to its plan (amount, interval, lookup key, active...)
  with :func:`~flask_stripe_billing.plans.plan_from_stripe_price`, unless the row holds newer data.  A
  ``price.created`` for an active recurring price we do not have (made in the Dashboard) imports it as a plan;
  other events about prices we do not have are ignored, as are one-time prices.  The ``price.created`` of a
  plan this application is creating finds its row by lookup key, before the creation's answer is stored.
* ``price.deleted`` deactivates the plan (a deletion is final, so its age does not matter).
* ``product.created`` / ``product.updated`` copy the product's name, description and active flag onto every
  plan of that product; ``product.deleted`` deactivates them.

Importing a price may ask Stripe for its product's name (events name the product by id), which happens before
any row is locked; rows are then locked (PostgreSQL) until the dispatcher commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from ...core.shapes import expandable_id
from ...core.state import get_state
from ...models import StripeSubscriptionPlan, StripeWebhook
from ...models.locks import find, find_locked, lock
from ...plans import apply_stripe_product, is_plan_price, plan_from_stripe_price
from ..events import event_object, event_time

#: The price events that carry a price to apply.
PRICE_EVENTS = ("price.created", "price.updated")

#: The product events that carry a product to apply.
PRODUCT_EVENTS = ("product.created", "product.updated")


def price_changed(webhook: StripeWebhook) -> None:
    """Apply the price the event carries to its plan; import an active recurring price created elsewhere."""
    data = event_object(webhook)
    price_id = expandable_id(data.get("id"))
    if data.get("object") not in (None, "price") or price_id is None or not is_plan_price(data):
        return
    known = find(StripeSubscriptionPlan, stripe_price_id=price_id)
    if known is None and (webhook.type != "price.created" or data.get("active") is False):
        return
    plan_from_stripe_price(data, event_time(webhook))


def price_deleted(webhook: StripeWebhook) -> None:
    """Deactivate the plan of the deleted price."""
    plan = find_locked(StripeSubscriptionPlan, stripe_price_id=expandable_id(event_object(webhook).get("id")))
    if plan is not None:
        plan.is_active = False
        plan.stripe_response = {**(plan.stripe_response or {}), "active": False}


def product_changed(webhook: StripeWebhook) -> None:
    """Copy the product's name, description and active flag onto the plans of its prices."""
    data = event_object(webhook)
    if data.get("object") not in (None, "product"):
        return
    for plan in _plans_of(expandable_id(data.get("id"))):
        apply_stripe_product(plan, data, event_time(webhook))


def product_deleted(webhook: StripeWebhook) -> None:
    """Deactivate the plans of the deleted product."""
    data = event_object(webhook)
    for plan in _plans_of(expandable_id(data.get("id"))):
        plan.is_active = False
        plan.stripe_response = {**(plan.stripe_response or {}), "product": {**data, "deleted": True}}


def _plans_of(product_id: str | None) -> list[StripeSubscriptionPlan]:
    """The plans of *product_id*, each locked until the dispatcher commits (PostgreSQL) and reloaded."""
    if not product_id:
        return []
    session = get_state().db.session
    query = sa.select(StripeSubscriptionPlan).where(StripeSubscriptionPlan.stripe_product_id == product_id)
    with session.no_autoflush:
        plans = list(session.scalars(query.order_by(StripeSubscriptionPlan.id)))
    return [lock(plan) for plan in plans]

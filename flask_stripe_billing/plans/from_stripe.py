"""Stripe Price (and its Product) -> ``StripeSubscriptionPlan`` row, never older over newer.

One function reads a price for everyone: :func:`plan_from_stripe_price` (used by :func:`~.lookup.resolve_plan`,
``flask stripe refresh-plans`` and the ``price.*`` webhooks) finds the row by price id, or else the row whose
creation is under way with the same lookup key, or inserts one (two transactions at once make one row), then
applies the price with :func:`apply_stripe_price`.  Only prices that can be subscribed to become plans: a
recurring price with a per-unit amount (:func:`is_plan_price`); one-time and tiered prices are not plans.

The product's name becomes the plan's ``name``.  The price is stored as ``stripe_response`` with its product
expanded, so that a later ``price.updated`` event (which names the product by id only) still knows the name
and whether the product is active without asking Stripe.  A plan is active when its price and its product are.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from .. import errors
from ..core.shapes import could_be_stripe_id, expandable_id
from ..core.state import get_state
from ..models import freshness
from ..models.locks import find, find_locked, insert_once, lock
from ..models.plan import PlanInterval, StripeSubscriptionPlan
from ..money import is_currency, is_whole_number

#: The row's fields a price (with its product) sets; a change to any of them is an update.
PRICE_FIELDS = (
    "stripe_price_id",
    "stripe_product_id",
    "lookup_key",
    "name",
    "description",
    "amount",
    "currency",
    "interval",
    "interval_count",
    "trial_period_days",
    "metadata_",
    "is_active",
)


@dataclass(frozen=True)
class PriceFields:
    """What a Stripe Price says about a plan, read and checked before any row is touched."""

    price_id: str
    product_id: str | None
    lookup_key: str | None
    amount: int
    currency: str
    interval: str
    interval_count: int
    trial_period_days: int | None
    active: bool
    metadata: dict[str, str] | None


def plain(value: Any) -> Any:
    """A ``stripe`` library object (a ``StripeObject``, which is not a ``Mapping``) as plain JSON-ready dicts (its
    decimal strings, which the library reads as :class:`~decimal.Decimal`, as the strings Stripe sent); else as
    is."""
    to_dict = getattr(value, "to_dict", None)
    return _json_ready(to_dict()) if not isinstance(value, Mapping) and callable(to_dict) else value


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return str(value) if isinstance(value, decimal.Decimal) else value


def is_plan_price(price: Any) -> bool:
    """Whether *price* (a Stripe Price or legacy Plan) can be a plan: recurring, with a per-unit amount."""
    return why_not_a_plan(plain(price)) is None


def why_not_a_plan(price: Any) -> str | None:
    """``None`` when *price* can be a plan; otherwise why not, in words for an error message."""
    if not isinstance(price, Mapping) or not could_be_stripe_id(price.get("id")):
        return "it is not a Stripe Price"
    if price.get("object") == "plan":  # the Plans API's shape: every plan bills on a schedule
        return None if is_whole_number(price.get("amount")) else "it has no per-unit amount (tiered pricing)"
    if price.get("type") == "one_time" or not isinstance(price.get("recurring"), Mapping):
        return "it is a one-time price, and a plan bills on a schedule"
    if not is_whole_number(price.get("unit_amount")):
        return "it has no per-unit amount (tiered or customer-chosen pricing)"
    return None


def read_price(price: Mapping[str, Any]) -> PriceFields:
    """The plan fields of a Stripe Price (or a legacy Plan).

    :raises flask_stripe_billing.errors.PlanError: when the price cannot be a plan or a field is malformed.
    """
    problem = why_not_a_plan(price)
    if problem is not None:
        raise errors.PlanError(f"Price {price.get('id')!r} cannot be a plan: {problem}.")
    legacy = price.get("object") == "plan"
    recurring: Mapping[str, Any] = price if legacy else price["recurring"]
    amount = price["amount"] if legacy else price["unit_amount"]
    currency = str(price.get("currency") or "").lower()
    interval = recurring.get("interval")
    count = recurring.get("interval_count", 1)
    trial = recurring.get("trial_period_days")
    if not is_currency(currency) or amount < 0:
        raise errors.PlanError(f"Price {price['id']!r} has an amount or currency a plan cannot hold.")
    if interval not in tuple(PlanInterval) or not is_whole_number(count) or count < 1:
        raise errors.PlanError(f"Price {price['id']!r} has an unknown interval {interval!r} x {count!r}.")
    lookup_key = price.get("lookup_key")
    metadata = price.get("metadata")
    return PriceFields(
        price_id=price["id"],
        product_id=expandable_id(price.get("product")),
        lookup_key=lookup_key if isinstance(lookup_key, str) and lookup_key else None,
        amount=amount,
        currency=currency,
        interval=str(interval),
        interval_count=count,
        trial_period_days=trial if is_whole_number(trial) and trial >= 0 else None,
        active=price.get("active") is not False,
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, Mapping) else None,
    )


def plan_from_stripe_price(price: Any, seen_at: dt.datetime | None = None) -> StripeSubscriptionPlan:
    """The plan row of a Stripe Price (a ``StripeObject`` or decoded JSON), inserted or updated from it.

    May call Stripe (for the product's name, when the price names its product by id and no row knows it), before
    any row is locked.  The row found or inserted is then locked (PostgreSQL) and the price applied unless the
    row holds newer data (*seen_at*: when the price was current, default now).  Does not commit: the caller
    does, which releases the lock.

    :raises flask_stripe_billing.errors.PlanError: for a price that cannot be a plan (one-time, tiered) or is
        malformed.
    :raises flask_stripe_billing.errors.StripeRequestError: when the product cannot be read from Stripe.
    """
    return import_price(price, seen_at)[0]


def import_price(price: Any, seen_at: dt.datetime | None = None) -> tuple[StripeSubscriptionPlan, bool]:
    """:func:`plan_from_stripe_price`, also saying whether the row was inserted now."""
    data = plain(price)
    fields = read_price(data if isinstance(data, Mapping) else {})
    plan = find(StripeSubscriptionPlan, stripe_price_id=fields.price_id) or _pending_creation(fields)
    product = product_of(data, plan)  # may ask Stripe: before any lock
    inserted = False
    if plan is None:
        values = {
            "stripe_price_id": fields.price_id,
            "name": str(product.get("name") or data.get("nickname") or fields.price_id)[:255],
            "amount": fields.amount,
            "currency": fields.currency,
            "interval": fields.interval,
            "interval_count": fields.interval_count,
            "is_created_at_stripe": True,
        }
        inserted = insert_once(StripeSubscriptionPlan, values, "stripe_price_id")
        plan = find_locked(StripeSubscriptionPlan, stripe_price_id=fields.price_id)  # a locking read sees it
        assert plan is not None  # inserted now, or by the transaction we waited for
    plan = lock(plan)
    apply_stripe_price(plan, data, seen_at or freshness.fetched_now(), product=product)
    get_state().db.session.flush()
    return plan, inserted


def apply_stripe_price(
    plan: StripeSubscriptionPlan,
    price: Mapping[str, Any],
    seen_at: dt.datetime | None = None,
    *,
    product: Mapping[str, Any] | None = None,
) -> bool:
    """Copy a Stripe Price (and *product*, or the one the price expands or the row knows) onto *plan* unless the
    row holds newer data; return whether a field changed.

    A lookup key another row holds is taken from it (Stripe moves a key from price to price).  Does not commit.

    :raises flask_stripe_billing.errors.PlanError: for a price that cannot be a plan; nothing is changed.
    """
    fields = read_price(price)
    if freshness.is_older(plan, seen_at):
        return False
    if product is None:
        product = _known_product(price, plan)
    before = _fields(plan)
    if fields.lookup_key is not None and fields.lookup_key != plan.lookup_key:
        release_lookup_key(fields.lookup_key, keep=plan)
    plan.stripe_price_id = fields.price_id
    plan.stripe_product_id = fields.product_id or plan.stripe_product_id
    plan.lookup_key = fields.lookup_key
    plan.amount, plan.currency = fields.amount, fields.currency
    plan.interval, plan.interval_count = fields.interval, fields.interval_count
    if fields.trial_period_days is not None:
        plan.trial_period_days = fields.trial_period_days
    if fields.metadata is not None:
        plan.metadata_ = fields.metadata
    plan.is_active = fields.active and (product is None or product.get("active") is not False)
    plan.is_created_at_stripe = True
    stored = dict(price)
    if product is not None:
        _apply_product_fields(plan, product)
        stored["product"] = dict(product)
    freshness.remember(plan, stored, seen_at)
    return before != _fields(plan)


def apply_stripe_product(plan: StripeSubscriptionPlan, product: Mapping[str, Any], seen_at: dt.datetime | None) -> bool:
    """Copy a Stripe Product's name, description and active flag onto *plan* (one of its prices) unless the row
    holds newer data; return whether a field changed.  Does not commit."""
    if freshness.is_older(plan, seen_at):
        return False
    before = _fields(plan)
    _apply_product_fields(plan, product)
    price_active = (plan.stripe_response or {}).get("active") is not False
    plan.is_active = price_active and product.get("active") is not False and not product.get("deleted")
    freshness.remember(plan, {**(plan.stripe_response or {}), "product": dict(product)}, seen_at)
    return before != _fields(plan)


def product_of(price: Mapping[str, Any], plan: StripeSubscriptionPlan | None = None) -> Mapping[str, Any]:
    """The price's product: expanded in the price, known to *plan*, or else read from Stripe (**calls Stripe**)."""
    known = _known_product(price, plan)
    if known is not None:
        return known
    product_id = expandable_id(price.get("product"))
    if product_id is None or not could_be_stripe_id(product_id):
        return {}
    return get_state().gateway.request("get", f"/v1/products/{quote(product_id, safe='')}")


def release_lookup_key(lookup_key: str, *, keep: StripeSubscriptionPlan | None = None) -> None:
    """Take *lookup_key* from every row but *keep* (Stripe gave it to another price), flushing the change so that
    the key is free before another row takes it."""
    session = get_state().db.session
    query = sa.select(StripeSubscriptionPlan).where(StripeSubscriptionPlan.lookup_key == lookup_key)
    if keep is not None and keep.id is not None:
        query = query.where(StripeSubscriptionPlan.id != keep.id)
    with session.no_autoflush:
        holders = list(session.scalars(query))
    for holder in holders:
        holder.lookup_key = None
    if holders:
        session.flush()


def _pending_creation(fields: PriceFields) -> StripeSubscriptionPlan | None:
    """The row whose creation at Stripe is under way (lookup key committed, no price id yet) for this price,
    when it bills the same: the price is that creation's, whose answer we have not (yet) stored."""
    if fields.lookup_key is None:
        return None
    plan = find(StripeSubscriptionPlan, lookup_key=fields.lookup_key)
    if plan is None or plan.stripe_price_id is not None:
        return None
    same = (plan.amount, plan.currency, plan.interval, plan.interval_count)
    return plan if same == (fields.amount, fields.currency, fields.interval, fields.interval_count) else None


def _known_product(price: Mapping[str, Any], plan: StripeSubscriptionPlan | None) -> Mapping[str, Any] | None:
    """The product expanded in *price*, or the one *plan* stored with its price when it is the same product."""
    product = plain(price.get("product"))
    if isinstance(product, Mapping):
        return product
    stored = plain((plan.stripe_response or {}).get("product")) if plan is not None else None
    if isinstance(stored, Mapping) and stored.get("id") == product:
        return stored
    return None


def _apply_product_fields(plan: StripeSubscriptionPlan, product: Mapping[str, Any]) -> None:
    name, description = product.get("name"), product.get("description")
    if isinstance(name, str) and name.strip():
        plan.name = name[:255]
    if isinstance(description, str) or (description is None and "description" in product):
        plan.description = description or None
    plan.stripe_product_id = expandable_id(product) or plan.stripe_product_id


def _fields(plan: StripeSubscriptionPlan) -> tuple[Any, ...]:
    return tuple(getattr(plan, name) for name in PRICE_FIELDS)

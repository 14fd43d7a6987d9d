"""Finding the plan a caller means: a row, a Price id (or an old Plan id) or a lookup key.

:func:`find_plan` reads only the database; :func:`resolve_plan` also imports a price it does not find here
from Stripe, so that every verb taking a plan also takes what Stripe and the Dashboard call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from .. import errors
from ..core.shapes import could_be_stripe_id, list_data
from ..core.state import get_state
from ..models.plan import StripeSubscriptionPlan
from .from_stripe import plan_from_stripe_price, why_not_a_plan

#: Prefixes of the ids Stripe gives prices, and plans made with the Plans API (which are prices too).
PRICE_ID_PREFIXES = ("price_", "plan_")


def find_plan(plan_or_price: Any) -> StripeSubscriptionPlan | None:
    """The row for *plan_or_price*: the row itself, or the row with that Price id or lookup key; ``None`` when
    there is none here (or for anything else).  Reads only the database."""
    if isinstance(plan_or_price, StripeSubscriptionPlan):
        return plan_or_price
    if not could_be_stripe_id(plan_or_price):
        return None
    query = sa.select(StripeSubscriptionPlan).where(
        sa.or_(
            StripeSubscriptionPlan.stripe_price_id == plan_or_price, StripeSubscriptionPlan.lookup_key == plan_or_price
        )
    )
    # A price id wins over a lookup key that happens to be spelled the same.
    found = list(get_state().db.session.scalars(query.limit(2)))
    return next((plan for plan in found if plan.stripe_price_id == plan_or_price), found[0] if found else None)


def resolve_plan(plan_or_price: Any) -> StripeSubscriptionPlan:
    """The active plan for a :class:`~flask_stripe_billing.models.StripeSubscriptionPlan`, a Price id (``price_...``,
    or the ``plan_...`` id of a plan made with the Plans API) or a lookup key.

    A row is returned as it is when active (whether it is created at Stripe is for the verb to check).  An id
    or key not known here is looked up at Stripe (``GET /v1/prices/{id}`` for an id, the price list filtered by
    ``lookup_keys[]`` otherwise) and the price imported as a plan (committed).  **May call Stripe.**

    :raises flask_stripe_billing.errors.PlanError: for ``None``, an empty string or another type, a price
        Stripe does not have, a price that cannot be a plan (one-time, tiered), or an inactive plan or price.
    """
    if plan_or_price is None or (isinstance(plan_or_price, str) and not plan_or_price.strip()):
        raise errors.PlanError("No plan given: pass a plan, a Price id or a lookup key.")
    if not isinstance(plan_or_price, (StripeSubscriptionPlan, str)):
        raise errors.PlanError(
            f"{plan_or_price!r} is not a plan: pass a StripeSubscriptionPlan, a Price id or a lookup key."
        )
    if not could_be_stripe_id(plan_or_price) and not isinstance(plan_or_price, StripeSubscriptionPlan):
        raise errors.PlanError(f"{plan_or_price!r} is not a Price id or a lookup key.")
    plan = find_plan(plan_or_price)
    if plan is None:
        plan = _import(str(plan_or_price))
    if not plan.is_active:
        raise errors.PlanError(f"The plan {plan.name!r} ({plan.stripe_price_id}) is no longer offered (inactive).")
    return plan


def _import(price_or_lookup_key: str) -> StripeSubscriptionPlan:
    """The plan of the price Stripe has under this id or lookup key, imported and committed."""
    price = _fetch_price(price_or_lookup_key)
    problem = why_not_a_plan(price)
    if problem is not None:
        raise errors.PlanError(f"The price {price_or_lookup_key!r} cannot be subscribed to: {problem}.")
    if price.get("active") is False:
        raise errors.PlanError(f"The price {price_or_lookup_key!r} is archived at Stripe (inactive).")
    plan = plan_from_stripe_price(price)
    get_state().db.session.commit()
    return plan


def _fetch_price(price_or_lookup_key: str) -> Mapping[str, Any]:
    gateway = get_state().gateway
    if price_or_lookup_key.startswith(PRICE_ID_PREFIXES):
        try:
            return gateway.request("get", f"/v1/prices/{quote(price_or_lookup_key, safe='')}", {"expand": ["product"]})
        except errors.InvalidRequestError as exc:
            if not exc.is_missing:
                raise
            raise errors.PlanError(f"Stripe has no price {price_or_lookup_key!r}.") from None
    found = gateway.request(
        "get", "/v1/prices", {"lookup_keys": [price_or_lookup_key], "expand": ["data.product"], "limit": 1}
    )
    prices = [price for price in list_data(found) if isinstance(price, Mapping)]
    if not prices:
        raise errors.PlanError(f"No plan here and no price at Stripe has the lookup key {price_or_lookup_key!r}.")
    return prices[0]

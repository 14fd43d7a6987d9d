"""``flask stripe refresh-plans``: the plans here made to match the prices at Stripe, Dashboard-made ones included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from .. import errors
from ..core.batch import BatchSummary
from ..core.state import get_state
from ..models import freshness
from ..models.locks import find, lock
from ..models.plan import StripeSubscriptionPlan
from .from_stripe import apply_stripe_price, import_price, is_plan_price

#: The outcomes :func:`refresh_plans` counts.
REFRESH_OUTCOMES = ("created", "updated", "deactivated", "unchanged", "skipped")


def refresh_plans(on_progress: Callable[[int], None] | None = None, *, page_size: int = 100) -> BatchSummary:
    """Import and update the plan of every active recurring price at Stripe (every page).  Calls Stripe.

    Reads ``GET /v1/prices`` (*page_size* a page, products expanded) and, for each price:

    * an active recurring price with a per-unit amount unknown here is **created** as a plan; a known one is
      **updated** (amount, interval, lookup key, product name...) or **unchanged**;
    * an inactive price (archived at Stripe) **deactivates** the active plan it has here, and is not imported;
    * a one-time or tiered price is **skipped**: it cannot be subscribed to.

    Then an active plan created at Stripe whose price the list did not show is **deactivated** (deleted at
    Stripe, or of another account).  A price whose data cannot be applied is a failure in the summary and the
    others go on.  Each plan is committed on its own, so no row stays locked while Stripe is asked for the next
    page.  *on_progress* is called with ``1`` for each price read.

    :raises flask_stripe_billing.errors.StripeRequestError: when a page of the list cannot be read.
    """
    session = get_state().db.session
    summary = BatchSummary(*REFRESH_OUTCOMES)
    seen: set[str] = set()
    params = {"expand": ["data.product"]}
    for data in get_state().gateway.list_all("/v1/prices", params, page_size=page_size):
        price_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(price_id, str):
            seen.add(price_id)
        try:
            outcome = _reconcile(data)
            session.commit()
        except (errors.PlanError, KeyError, TypeError, ValueError, ArithmeticError, sa.exc.SQLAlchemyError) as exc:
            session.rollback()  # one odd price must not stop the rest
            summary.failures.add(f"price {price_id}", exc)
        else:
            setattr(summary, outcome, getattr(summary, outcome) + 1)
        if on_progress is not None:
            on_progress(1)
    summary.deactivated += _deactivate_missing(seen)
    return summary


def _reconcile(data: Any) -> str:
    """Apply one listed price; return what became of its plan (one of :data:`REFRESH_OUTCOMES`)."""
    if not isinstance(data, dict):
        raise TypeError(f"Stripe listed {type(data).__name__} among prices")
    known = find(StripeSubscriptionPlan, stripe_price_id=data.get("id"))
    if not is_plan_price(data):
        return "skipped"
    if data.get("active") is False:
        if known is None or not known.is_active:
            return "skipped" if known is None else "unchanged"
        plan = lock(known)
        apply_stripe_price(plan, data, freshness.fetched_now())
        return "deactivated" if not plan.is_active else "updated"
    if known is None:
        # The row of a creation under way (found by its lookup key) existed already: updated, not created.
        return "created" if import_price(data)[1] else "updated"
    plan = lock(known)
    return "updated" if apply_stripe_price(plan, data, freshness.fetched_now()) else "unchanged"


def _deactivate_missing(seen: set[str]) -> int:
    """Deactivate the active plans created at Stripe whose price was not in the list; return how many."""
    session = get_state().db.session
    query = sa.select(StripeSubscriptionPlan).where(
        StripeSubscriptionPlan.is_active.is_(True),
        StripeSubscriptionPlan.is_created_at_stripe.is_(True),
        StripeSubscriptionPlan.stripe_price_id.is_not(None),
    )
    # A plan whose creation is under way has no price id yet, and is not missing at Stripe.
    missing = [plan for plan in session.scalars(query) if plan.stripe_price_id not in seen]
    for plan in missing:
        plan.is_active = False
    session.commit()
    return len(missing)

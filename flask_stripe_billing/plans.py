"""Plans: creating a plan and its product at Stripe.

A plan is created with Stripe's Plans API (``POST /v1/products`` then ``POST /v1/plans``), which every Stripe
account and the offline Stripe understand; a plan is also a price at Stripe, so it can be used wherever a
price id is expected.  Both ids are chosen here, stored and committed before the first request, with the
idempotency key: a retry after a crash or a lost answer asks Stripe for the same objects again instead of
creating a second product or plan.
"""

from __future__ import annotations

import secrets
from typing import Any

from . import errors
from .core.state import get_state
from .models import freshness
from .models.plan import PlanInterval, StripeSubscriptionPlan
from .money import is_currency, is_positive_amount

#: The longest billing interval Stripe allows, per interval: three years (``interval_count`` of a plan).
MAX_INTERVAL_COUNT = {PlanInterval.DAY: 3 * 365, PlanInterval.WEEK: 156, PlanInterval.MONTH: 36, PlanInterval.YEAR: 3}

#: The longest trial Stripe allows on a plan, in days.
MAX_TRIAL_PERIOD_DAYS = 730


def validate_plan(plan: StripeSubscriptionPlan) -> None:
    """Check *plan* before anything is sent to Stripe.

    :raises flask_stripe_billing.errors.PlanError: for a missing name, an amount that is not a positive integer
        (minor units), a malformed currency, an unknown interval, an interval count outside Stripe's range
        (at most three years: 1095 days, 156 weeks, 36 months or 3 years) or a negative trial.
    """
    if not plan.name or not str(plan.name).strip():
        raise errors.PlanError("A plan needs a name (shown to customers on invoices).")
    if not is_positive_amount(plan.amount):
        raise errors.PlanError(f"amount must be a positive integer in minor units (cents), not {plan.amount!r}.")
    if not is_currency(plan.currency):
        raise errors.PlanError(
            f"currency must be a currency Stripe supports, in lowercase such as 'usd', not {plan.currency!r}."
        )
    try:
        interval = PlanInterval(plan.interval)
    except ValueError:
        allowed = ", ".join(item.value for item in PlanInterval)
        raise errors.PlanError(f"interval must be one of {allowed}, not {plan.interval!r}.") from None
    count = plan.interval_count
    maximum = MAX_INTERVAL_COUNT[interval]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= maximum:
        raise errors.PlanError(
            f"interval_count must be between 1 and {maximum} for interval {interval.value!r} "
            f"(Stripe bills at most every three years), not {count!r}."
        )
    trial = plan.trial_period_days
    if trial is not None and (
        isinstance(trial, bool) or not isinstance(trial, int) or not 0 <= trial <= MAX_TRIAL_PERIOD_DAYS
    ):
        raise errors.PlanError(f"trial_period_days must be between 0 and {MAX_TRIAL_PERIOD_DAYS}, not {trial!r}.")


def create_plan(plan: StripeSubscriptionPlan) -> dict[str, Any]:
    """Create *plan*'s product and the plan itself at Stripe, and store the result; return Stripe's plan.

    Calls Stripe.  The plan's id (``stripe_plan_id``, kept if you set one) and its product's id are chosen
    and committed with the idempotency key before the first request, so retrying after a failure reuses
    them; an object already created under that id by an earlier, interrupted call is taken over.

    :raises flask_stripe_billing.errors.PlanError: for bad input (see :func:`validate_plan`) or a plan already
        created at Stripe, before any request.
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses; the row stays not created.
    """
    if plan.is_created_at_stripe:
        raise errors.PlanError(
            f"Plan {plan.stripe_plan_id!r} was already created at Stripe; create a new plan instead."
        )
    # Column defaults apply only at the first flush; a plan built and created at once has none yet.
    plan.interval = PlanInterval.MONTH if plan.interval is None else plan.interval
    plan.interval_count = 1 if plan.interval_count is None else plan.interval_count
    validate_plan(plan)
    state = get_state()
    token = secrets.token_hex(8)
    plan.stripe_plan_id = plan.stripe_plan_id or f"plan_fsb_{token}"
    plan.stripe_product_id = plan.stripe_product_id or f"prod_fsb_{token}"
    plan.idempotency_key = plan.idempotency_key or state.gateway.new_idempotency_key("plan", "create")
    state.db.session.add(plan)
    state.db.session.commit()

    metadata = {str(key): str(value) for key, value in (plan.metadata_ or {}).items()}
    product_params: dict[str, Any] = {"id": plan.stripe_product_id, "name": plan.name, "metadata": metadata}
    if plan.description:
        product_params["description"] = plan.description
    _create_or_take_over("/v1/products", product_params, f"{plan.idempotency_key}-product")
    plan_params: dict[str, Any] = {
        "id": plan.stripe_plan_id,
        "product": plan.stripe_product_id,
        "amount": plan.amount,
        "currency": plan.currency,
        "interval": plan.interval,
        "interval_count": plan.interval_count,
        "nickname": plan.name,
        "metadata": metadata,
    }
    if plan.trial_period_days:
        plan_params["trial_period_days"] = plan.trial_period_days
    data = _create_or_take_over("/v1/plans", plan_params, f"{plan.idempotency_key}-plan")
    plan.is_created_at_stripe = True
    freshness.remember(plan, data)
    state.db.session.commit()
    return data


#: What a plan found at Stripe under our id must share with ours to be taken over.
BILLING_FIELDS = ("amount", "currency", "interval", "interval_count")


def _create_or_take_over(path: str, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """POST *params* to *path*; if an object with that id exists (an interrupted earlier call), fetch it."""
    gateway = get_state().gateway
    try:
        return gateway.request("post", path, params, idempotency_key=idempotency_key)
    except errors.StripeRequestError as exc:
        # Past the idempotency key's 24 hours a retry is answered "already exists" (offline Stripe: 409).
        already_exists = exc.code == "resource_already_exists" or (
            exc.http_status == 409 and exc.code != "idempotency_key_in_use"
        )
        if not already_exists:
            raise
    existing = gateway.request("get", f"{path}/{params['id']}")
    # Taken over only if it bills what this row says: another object under the same id must not be adopted.
    differing = [name for name in BILLING_FIELDS if name in params and existing.get(name) != params[name]]
    if differing:
        raise errors.PlanError(
            f"{params['id']} already exists at Stripe with another {', '.join(differing)}; give this plan another id."
        )
    return existing

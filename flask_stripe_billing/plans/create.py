"""Creating a plan at Stripe: its Product, then its Price.

Stripe lets us choose a product's id but not a price's, so a price is made findable again by its lookup key:
the product's id, the lookup key (the host's, or one made up here) and the idempotency key are chosen and
committed before the first request.  A retry after a crash or a lost answer first asks Stripe for the price
with that lookup key (``GET /v1/prices?lookup_keys[]=...``) and takes it over when it bills what the row says;
otherwise it sends the same requests with the same keys, so Stripe answers with what it did instead of making a
second product or price.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from .. import errors
from ..core.shapes import list_data
from ..core.state import get_state
from ..models.plan import PlanInterval, StripeSubscriptionPlan
from ..money import is_currency, is_positive_amount
from .from_stripe import apply_stripe_price, plain

#: The longest billing interval Stripe allows, per interval: three years (``recurring[interval_count]``).
MAX_INTERVAL_COUNT = {PlanInterval.DAY: 3 * 365, PlanInterval.WEEK: 156, PlanInterval.MONTH: 36, PlanInterval.YEAR: 3}

#: The longest trial Stripe allows, in days.
MAX_TRIAL_PERIOD_DAYS = 730

#: The longest lookup key Stripe takes.
MAX_LOOKUP_KEY_LENGTH = 200


def validate_plan(plan: StripeSubscriptionPlan) -> None:
    """Check *plan* before anything is sent to Stripe.

    :raises flask_stripe_billing.errors.PlanError: for a missing name, an amount that is not a positive integer
        (minor units), a malformed currency, an unknown interval, an interval count outside Stripe's range
        (at most three years: 1095 days, 156 weeks, 36 months or 3 years), a negative trial or a lookup key
        that is not a short non-empty string.
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
    key = plan.lookup_key
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > MAX_LOOKUP_KEY_LENGTH):
        raise errors.PlanError(
            f"lookup_key must be a non-empty string of at most {MAX_LOOKUP_KEY_LENGTH} characters, not {key!r}."
        )


def create_plan(plan: StripeSubscriptionPlan) -> dict[str, Any]:
    """Create *plan*'s product and price at Stripe, and store the result; return Stripe's price.

    Calls Stripe.  ``POST /v1/products`` (under ``stripe_product_id``, kept if you set one, so several plans can
    share a product) then ``POST /v1/prices`` (``unit_amount``, ``currency``, ``recurring``, the plan's name as
    ``nickname``, ``lookup_key``, ``metadata``).  ``trial_period_days`` stays on the row: subscribing sends it
    with the subscription.  The lookup key (kept if you set one, else ``fsb_<random>``), the product id and the
    idempotency key are committed before the first request; a price already at Stripe under that lookup key is
    taken over when it bills the same amount, currency and interval (an earlier call's lost answer).

    A row given a ``stripe_price_id`` of a price that exists (made in the Dashboard, say) is not created again:
    that price is taken over when it bills what the row says.  Stripe chooses price ids, so the id of a price
    still to be made cannot be set; set ``lookup_key`` to name it instead.

    :raises flask_stripe_billing.errors.PlanError: for bad input (see :func:`validate_plan`), a plan already
        created at Stripe (before any request), a lookup key or price id Stripe has for a price billing
        something else, or a ``stripe_price_id`` Stripe does not know.
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses; the row stays not created.
    """
    if plan.is_created_at_stripe:
        raise errors.PlanError(
            f"Plan {plan.stripe_price_id!r} was already created at Stripe; create a new plan instead."
        )
    # Column defaults apply only at the first flush; a plan built and created at once has none yet.
    plan.interval = PlanInterval.MONTH if plan.interval is None else plan.interval
    plan.interval_count = 1 if plan.interval_count is None else plan.interval_count
    validate_plan(plan)
    if plan.stripe_price_id:
        return _adopt_price(plan)
    state = get_state()
    token = secrets.token_hex(8)
    plan.lookup_key = plan.lookup_key or f"fsb_{token}"
    plan.stripe_product_id = plan.stripe_product_id or f"prod_fsb_{token}"
    plan.idempotency_key = plan.idempotency_key or state.gateway.new_idempotency_key("plan", "create")
    state.db.session.add(plan)
    state.db.session.commit()

    data = _price_with_lookup_key(plan)
    if data is not None:
        return _store(plan, data)
    product = _create_product(plan)
    key = f"{plan.idempotency_key}-price"
    data = state.gateway.request("post", "/v1/prices", price_params(plan), idempotency_key=key)
    return _store(plan, data, product)


def price_params(plan: StripeSubscriptionPlan) -> dict[str, Any]:
    """The parameters of ``POST /v1/prices`` for *plan*."""
    return {
        "product": plan.stripe_product_id,
        "unit_amount": plan.amount,
        "currency": plan.currency,
        "recurring": {"interval": str(plan.interval), "interval_count": plan.interval_count},
        "nickname": plan.name,
        "lookup_key": plan.lookup_key,
        "metadata": _metadata(plan),
    }


def _create_product(plan: StripeSubscriptionPlan) -> dict[str, Any]:
    """``POST /v1/products`` under the row's product id; a product already there (an interrupted earlier call,
    or one the host shares between plans) is used as it is."""
    gateway = get_state().gateway
    params: dict[str, Any] = {"id": plan.stripe_product_id, "name": plan.name, "metadata": _metadata(plan)}
    if plan.description:
        params["description"] = plan.description
    try:
        return gateway.request("post", "/v1/products", params, idempotency_key=f"{plan.idempotency_key}-product")
    except errors.StripeRequestError as exc:
        # Past the idempotency key's 24 hours a retry is answered "already exists" (offline Stripe: 409).
        already_exists = exc.code == "resource_already_exists" or (
            exc.http_status == 409 and exc.code != "idempotency_key_in_use"
        )
        if not already_exists:
            raise
    return gateway.request("get", f"/v1/products/{plan.stripe_product_id}")


def _price_with_lookup_key(plan: StripeSubscriptionPlan) -> dict[str, Any] | None:
    """The price Stripe has under the row's lookup key, if any, checked to bill what the row says."""
    found = get_state().gateway.request(
        "get", "/v1/prices", {"lookup_keys": [plan.lookup_key], "expand": ["data.product"], "limit": 1}
    )
    prices = list_data(found)
    if not prices:
        return None
    _check_same_billing(plan, prices[0], f"The lookup key {plan.lookup_key!r} is taken at Stripe by a price")
    return dict(prices[0])


def _adopt_price(plan: StripeSubscriptionPlan) -> dict[str, Any]:
    """Take over the existing price the row names by id (see :func:`create_plan`)."""
    gateway = get_state().gateway
    path = f"/v1/prices/{quote(str(plan.stripe_price_id), safe='')}"
    try:
        data = gateway.request("get", path, {"expand": ["product"]})
    except errors.InvalidRequestError as exc:
        if not exc.is_missing:
            raise
        raise errors.PlanError(
            f"Stripe has no price {plan.stripe_price_id!r}, and a new price cannot be given an id: leave "
            "stripe_price_id empty (set lookup_key to name the price) to create one."
        ) from None
    _check_same_billing(plan, data, f"Price {plan.stripe_price_id!r} exists at Stripe")
    return _store(plan, data)


def _check_same_billing(plan: StripeSubscriptionPlan, price: Any, what: str) -> None:
    """Refuse to take over a *price* that bills another amount, currency or interval than *plan*."""
    price = plain(price)
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else {}
    theirs = {
        "amount": price.get("unit_amount"),
        "currency": price.get("currency"),
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count", 1),
    }
    differing = [name for name, value in theirs.items() if value != getattr(plan, name)]
    if differing:
        raise errors.PlanError(
            f"{what} with another {', '.join(differing)}; give this plan another lookup key, or import that "
            "price with resolve_plan()."
        )


def _store(
    plan: StripeSubscriptionPlan, price: dict[str, Any], product: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Keep Stripe's price (and *product*, if not expanded in it) on the row as created, committed."""
    name = plan.name  # the host's name wins over the product's for a plan it created
    apply_stripe_price(plan, price, product=product)
    plan.name = name
    get_state().db.session.add(plan)
    get_state().db.session.commit()
    return price


def _metadata(plan: StripeSubscriptionPlan) -> dict[str, str]:
    return {str(key): str(value) for key, value in (plan.metadata_ or {}).items()}

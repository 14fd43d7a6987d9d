"""Creating Checkout Sessions: Stripe's hosted payment page, for a subscription, a payment or a saved card.

.. code-block:: python

    session = billing.checkout(user, "price_pro_monthly", trial_days=14, allow_promotion_codes=True)
    return redirect(session.url, code=303)

Everything given is checked before any request (:class:`~flask_stripe_billing.errors.CheckoutError`).  Then the
subscriber's customer is found or created without a card (:mod:`.customer`), the session's idempotency key is
made (and, by default, recorded) and the session is created.  ``client_reference_id`` and the metadata of the
session, and of the subscription, PaymentIntent or SetupIntent it makes, name the subscriber, so that what
Checkout makes can be stored for them (:mod:`.complete`) whichever of the return page and the webhook comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for
from werkzeug.routing import BuildError

from .. import errors
from ..core.shapes import list_data
from ..core.state import get_state
from ..coupons.lookup import resolve_coupon
from ..models.base import subscriber_key
from ..models.coupon import StripeCoupon
from ..models.plan import StripeSubscriptionPlan
from ..money import is_currency, is_positive_amount
from ..plans.lookup import resolve_plan
from .customer import checkout_customer

#: The modes of a Checkout Session.
MODES = ("subscription", "payment", "setup")

#: The package's return page (``GET <prefix>/checkout/return``) and the plans page, the default return addresses.
RETURN_ENDPOINT = "stripe_billing.checkout_return"
PLANS_ENDPOINT = "stripe_billing.plans"

#: What Stripe puts the session's id in place of, in ``success_url``.
SESSION_ID_TEMPLATE = "{CHECKOUT_SESSION_ID}"

#: The longest trial Checkout allows, in days.
MAX_TRIAL_DAYS = 730

#: Parameters whose metadata is merged with ours (``subscriber_id`` kept) rather than replaced by the caller's.
MERGED_OPTIONS = ("metadata", "subscription_data", "payment_intent_data", "setup_intent_data")

PlanOrPrice = StripeSubscriptionPlan | str | Mapping[str, Any]


@dataclass(frozen=True)
class CheckoutSession:
    """A Checkout Session as created: send the customer to :attr:`url` (a ``303`` redirect)."""

    #: The session's id (``cs_...``).
    id: str
    #: Stripe's hosted page for it.
    url: str | None
    #: ``subscription``, ``payment`` or ``setup``.
    mode: str

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> CheckoutSession:
        """The session Stripe answered with."""
        url = data.get("url")
        return cls(id=str(data["id"]), url=url if isinstance(url, str) else None, mode=str(data.get("mode")))


def create_checkout_session(
    subscriber: Any,
    *plans_or_prices: PlanOrPrice,
    mode: str = "subscription",
    quantity: int = 1,
    trial_days: int | None = None,
    coupon: StripeCoupon | str | None = None,
    allow_promotion_codes: bool = False,
    success_url: str | None = None,
    cancel_url: str | None = None,
    **stripe_options: Any,
) -> CheckoutSession:
    """Create a Checkout Session for *subscriber* and return it.  **Calls Stripe.**

    :param plans_or_prices: what is bought.  ``subscription`` mode: plans, Price ids or lookup keys (unknown
        prices are imported as plans).  ``payment`` mode: one-time Price ids or lookup keys, or ``price_data``
        mappings (``{"currency": "usd", "unit_amount": 1500, "product_data": {"name": "Ebook"}}``); a mapping
        with ``price`` or ``price_data`` is taken as a whole line item.  ``setup`` mode: none.
    :param quantity: of each line item (an integer of at least 1).
    :param trial_days: a trial of that many days (``subscription`` mode); ``None`` takes the plan's
        ``trial_period_days``, ``0`` means no trial.
    :param coupon: a coupon row or id, applied at once; not together with *allow_promotion_codes*.
    :param allow_promotion_codes: let the customer type a promotion code on the page.
    :param success_url: where Stripe sends the customer once done; by default the package's return page,
        which stores the result at once.  Put ``{CHECKOUT_SESSION_ID}`` in your own to receive the session.
    :param cancel_url: where the page's back link leads; by default the plans page.
    :param stripe_options: more ``POST /v1/checkout/sessions`` parameters, as they are; ``metadata`` and
        ``subscription_data`` / ``payment_intent_data`` / ``setup_intent_data`` are merged with ours (the
        subscriber's id is kept).
    :raises flask_stripe_billing.errors.CheckoutError: for any of the above given wrongly, before any request.
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses or cannot be reached.
    """
    _check_options(mode, plans_or_prices, quantity, trial_days, coupon, allow_promotion_codes)
    for name in MERGED_OPTIONS:
        if stripe_options.get(name) is not None and not isinstance(stripe_options[name], Mapping):
            raise errors.CheckoutError(f"{name} must be a mapping, not {stripe_options[name]!r}.")
    success = absolute_url("success_url", success_url) if success_url is not None else default_success_url()
    cancel = absolute_url("cancel_url", cancel_url) if cancel_url is not None else default_cancel_url()
    coupon_row = _coupon(coupon)
    plans: list[StripeSubscriptionPlan] = []
    line_items: list[dict[str, Any]] = []
    for item in plans_or_prices:
        line, plan = _line_item(mode, item, quantity)
        line_items.append(line)
        plans.extend([plan] if plan is not None else [])

    customer = checkout_customer(subscriber)
    key = str(subscriber_key(subscriber))
    ours = {"subscriber_id": key, "subscriber_type": type(subscriber).__name__}
    params: dict[str, Any] = {
        "mode": mode,
        "customer": customer.stripe_customer_id,
        "client_reference_id": key,
        "metadata": dict(ours),
        "success_url": success,
        "cancel_url": cancel,
    }
    if line_items:
        params["line_items"] = line_items
    if mode == "subscription":
        params["subscription_data"] = {"metadata": dict(ours), **_trial(trial_days, plans)}
    elif mode == "payment":
        params["payment_intent_data"] = {"metadata": dict(ours)}
    else:
        params["setup_intent_data"] = {"metadata": dict(ours)}
        if "payment_method_types" not in stripe_options:
            params["currency"] = get_state().config.default_currency
    if coupon_row is not None:
        params["discounts"] = [{"coupon": coupon_row.coupon_id}]
    if allow_promotion_codes:
        params["allow_promotion_codes"] = True
    params = merge_options(params, stripe_options)

    gateway = get_state().gateway
    idempotency_key = gateway.new_idempotency_key("checkout_session", "create")
    data = gateway.request("post", "/v1/checkout/sessions", params, idempotency_key=idempotency_key)
    return CheckoutSession.from_stripe(data)


def default_success_url(next_path: str | None = None) -> str:
    """The package's return page, absolute, with ``session_id={CHECKOUT_SESSION_ID}`` (and ``next=next_path``,
    where the page leads afterwards: check that it is a path on this site first).

    :raises flask_stripe_billing.errors.CheckoutError: when it cannot be built (no blueprint, or outside a request
        without ``SERVER_NAME``): pass ``success_url``.
    """
    values = {"next": next_path} if next_path else {}
    url = external_url(RETURN_ENDPOINT, "success_url", **values)
    return f"{url}{'&' if values else '?'}session_id={SESSION_ID_TEMPLATE}"


def default_cancel_url() -> str:
    """The plans page, absolute (see :func:`default_success_url` for the errors)."""
    return external_url(PLANS_ENDPOINT, "cancel_url")


def merge_options(params: dict[str, Any], stripe_options: Mapping[str, Any]) -> dict[str, Any]:
    """*params* with *stripe_options* over them; in :data:`MERGED_OPTIONS` the caller's keys go over ours one level
    down and their ``metadata`` is merged with ours, our ``subscriber_id`` and ``subscriber_type`` kept."""
    merged = {**params, **{key: value for key, value in stripe_options.items() if key not in MERGED_OPTIONS}}
    for name in MERGED_OPTIONS:
        given = stripe_options.get(name)
        if not isinstance(given, Mapping):
            continue
        if name == "metadata":
            merged[name] = {**_strings(given), **params.get(name, {})}
            continue
        ours = params.get(name, {})
        nested = {**ours, **{key: value for key, value in given.items() if key != "metadata"}}
        if "metadata" in ours or "metadata" in given:
            nested["metadata"] = {**_strings(given.get("metadata") or {}), **ours.get("metadata", {})}
        merged[name] = nested
    return merged


def _check_options(
    mode: str,
    items: tuple[PlanOrPrice, ...],
    quantity: int,
    trial_days: int | None,
    coupon: StripeCoupon | str | None,
    allow_promotion_codes: bool,
) -> None:
    if mode not in MODES:
        raise errors.CheckoutError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if mode == "setup" and items:
        raise errors.CheckoutError("A setup session saves a card and sells nothing: give it no plan or price.")
    if mode != "setup" and not items:
        raise errors.CheckoutError(f"A {mode} session needs at least one plan or price.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise errors.CheckoutError(f"quantity must be an integer of at least 1, not {quantity!r}.")
    if trial_days is not None:
        if mode != "subscription":
            raise errors.CheckoutError("trial_days applies to subscription sessions only.")
        if isinstance(trial_days, bool) or not isinstance(trial_days, int) or not 0 <= trial_days <= MAX_TRIAL_DAYS:
            raise errors.CheckoutError(f"trial_days must be between 0 and {MAX_TRIAL_DAYS}, not {trial_days!r}.")
    if not isinstance(allow_promotion_codes, bool):
        raise errors.CheckoutError(f"allow_promotion_codes must be True or False, not {allow_promotion_codes!r}.")
    if coupon is not None and allow_promotion_codes:
        raise errors.CheckoutError("Give a coupon or allow promotion codes, not both: Stripe takes only one of them.")
    if coupon is not None and mode == "setup":
        raise errors.CheckoutError("A setup session takes no coupon.")


def _coupon(coupon: StripeCoupon | str | None) -> StripeCoupon | None:
    try:
        return resolve_coupon(coupon)
    except errors.SubscriptionError as exc:
        raise errors.CheckoutError(str(exc)) from exc


def _line_item(mode: str, item: PlanOrPrice, quantity: int) -> tuple[dict[str, Any], StripeSubscriptionPlan | None]:
    """The line item for one plan or price, and the plan it is (subscription mode)."""
    if isinstance(item, Mapping):
        if "price" in item or "price_data" in item:
            line = {"quantity": quantity, **dict(item)}
            if "price_data" in line:
                _check_price_data(mode, line["price_data"])
            return line, None
        _check_price_data(mode, item)
        return {"price_data": dict(item), "quantity": quantity}, None
    if mode == "subscription":
        plan = _resolve_plan(item)
        return {"price": plan.stripe_price_id, "quantity": quantity}, plan
    if isinstance(item, StripeSubscriptionPlan):
        raise errors.CheckoutError(f"Plan {item.name!r} is recurring: sell it with mode='subscription'.")
    if not isinstance(item, str) or not item.strip():
        raise errors.CheckoutError(f"{item!r} is not a plan, a Price id, a lookup key or price data.")
    return {"price": _one_time_price(item), "quantity": quantity}, None


def _check_price_data(mode: str, data: Any) -> None:
    """Refuse ``price_data`` Stripe would refuse: money in minor units, a product, recurring only for a
    subscription."""
    if not isinstance(data, Mapping):
        raise errors.CheckoutError(f"price_data must be a mapping, not {data!r}.")
    if not is_currency(data.get("currency")):
        raise errors.CheckoutError(f"price_data needs a currency such as 'usd', not {data.get('currency')!r}.")
    if not is_positive_amount(data.get("unit_amount")):
        raise errors.CheckoutError(
            f"price_data's unit_amount must be a positive integer in minor units, not {data.get('unit_amount')!r}."
        )
    product = data.get("product_data")
    if not data.get("product") and not (isinstance(product, Mapping) and str(product.get("name") or "").strip()):
        raise errors.CheckoutError("price_data needs a product id (product) or a name (product_data={'name': ...}).")
    if mode == "subscription" and not isinstance(data.get("recurring"), Mapping):
        raise errors.CheckoutError("price_data of a subscription needs recurring={'interval': 'month'} or the like.")
    if mode == "payment" and "recurring" in data:
        raise errors.CheckoutError("A payment session sells one-time prices: leave recurring out of price_data.")


def _one_time_price(price_or_lookup_key: str) -> str:
    """A Price id as it is (Stripe refuses a recurring one in payment mode), or the active price with that
    lookup key, which must be one-time."""
    if price_or_lookup_key.startswith(("price_", "plan_")):
        return price_or_lookup_key
    found = get_state().gateway.request(
        "get", "/v1/prices", {"lookup_keys": [price_or_lookup_key], "active": True, "limit": 1}
    )
    prices = [price for price in list_data(found) if isinstance(price, Mapping)]
    if not prices:
        raise errors.CheckoutError(f"No active price has the lookup key {price_or_lookup_key!r}.")
    if prices[0].get("type") == "recurring":
        raise errors.CheckoutError(f"The price {price_or_lookup_key!r} is recurring: sell it with mode='subscription'.")
    return str(prices[0]["id"])


def _resolve_plan(plan_or_price: Any) -> StripeSubscriptionPlan:
    """The plan created at Stripe for a row, a Price id or a lookup key
    (:func:`~flask_stripe_billing.plans.resolve_plan`, which imports a price new to us), as a
    :class:`~flask_stripe_billing.errors.CheckoutError` when there is none."""
    try:
        plan = resolve_plan(plan_or_price)
    except errors.PlanError as exc:
        raise errors.CheckoutError(str(exc)) from exc
    if not plan.is_created_at_stripe or not plan.stripe_price_id:
        raise errors.CheckoutError(f"Plan {plan.name!r} is not created at Stripe yet: call create_at_stripe() first.")
    return plan


def _trial(trial_days: int | None, plans: list[StripeSubscriptionPlan]) -> dict[str, Any]:
    days = trial_days if trial_days is not None else max((plan.trial_period_days or 0 for plan in plans), default=0)
    return {"trial_period_days": days} if days else {}


def absolute_url(name: str, url: Any) -> str:
    """*url* when it is an absolute ``http(s)`` URL (given as *name*).

    :raises flask_stripe_billing.errors.CheckoutError: otherwise.
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.CheckoutError(f"{name} must be an absolute http(s) URL, not {url!r}.")
    return str(url)


def external_url(endpoint: str, name: str = "return_url", **values: Any) -> str:
    """The absolute URL of a billing page.

    :raises flask_stripe_billing.errors.CheckoutError: when it cannot be built; pass *name* instead.
    """
    if endpoint not in current_app.view_functions:
        raise errors.CheckoutError(f"Pass {name}: the billing pages are not registered on this application.")
    try:
        return url_for(endpoint, _external=True, **values)
    except (BuildError, RuntimeError) as exc:
        raise errors.CheckoutError(f"Pass {name}: outside a request it needs SERVER_NAME to be built.") from exc


def _strings(metadata: Mapping[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in metadata.items()}

"""What the offline Checkout Sessions and Customer Portal share (in the server process): Stripe's error shape,
prices as both read them, product names, promotion codes, list pages and URLs.

Prices come from the offline catalogue (:mod:`.prices`; errors, parameters and lists from :mod:`.api`); a
Plan's id is taken as a price id, as Stripe takes it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import api, prices, promotion_codes, subscriptions


class Price(NamedTuple):
    """A price as Checkout and the Portal read it; ``data`` is its API shape."""

    id: str
    currency: str
    unit_amount: int
    product: str
    recurring: dict[str, Any] | None
    nickname: str | None
    active: bool
    data: dict[str, Any]


def refuse(
    resources: Any, message: str, param: str | None = None, *, status: int = 400, code: str | None = None
) -> Any:
    """Stripe's error (:func:`.api.stripe_error`) with HTTP *status*: 402 and ``card_error`` for a card."""
    if status == 404 and code is None:
        code = "resource_missing"
    error = api.stripe_error(resources, message, param, code)
    error.code = status
    if status == 402:
        error.body["error"]["type"] = "card_error"
    return error


class Exported:
    """An object already in its API shape (a line item), for :func:`.api.page`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.id, self.data = data["id"], data

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        return dict(self.data)


def store_key(kind: str, object_id: str) -> str:
    """The key of an object of *kind* in localstripe's store, as localstripe writes its own."""
    return f"{kind}:{object_id}"


def _id(value: Any) -> str:
    return str(getattr(value, "id", value.get("id") if isinstance(value, dict) else value))


def as_price(found: Any) -> Price:
    """*found* (a :class:`.prices.Price`) as Checkout and the Portal read it."""
    recurring = dict(found.recurring) if found.recurring else None
    return Price(
        found.id, str(found.currency).lower(), int(found.unit_amount or 0), _id(found.product), recurring,
        found.nickname, bool(found.active), found._export(),
    )  # fmt: skip


def find_price(resources: Any, price_id: Any, param: str = "price") -> Price:
    """The price *price_id* (a Price, or a Plan by its id); Stripe's 404 naming *param* when there is none."""
    try:
        found = prices.find_price(resources, price_id, param)
    except resources.UserError:
        plan = resources.store.get(store_key("plan", price_id)) if isinstance(price_id, str) else None
        if plan is None:
            raise
        found = prices.price_of_plan(plan)
    return as_price(found)


def product_name(resources: Any, product_id: str) -> str:
    """The name of product *product_id* (its id when it has none)."""
    product = resources.store.get(store_key("product", product_id))
    return str(getattr(product, "name", None) or product_id)


def promotion_coupon(resources: Any, promotion: Any, customer: str | None) -> Any:
    """The localstripe Coupon *promotion* (a promotion code) gives *customer* now, or ``None`` when it cannot be
    redeemed (inactive, expired, used up, someone else's, or its coupon no longer valid)."""
    try:
        coupon = promotion_codes.redeemable_coupon(resources, promotion, customer, "promotion_code")
        return subscriptions._one_coupon(resources, [{"coupon": coupon}], None)
    except resources.UserError:
        return None


def find_promotion(resources: Any, code: str) -> Any:
    """The active promotion code whose customer-facing code is *code*, or ``None``."""
    return promotion_codes.find_promotion_code_by_code(resources, code)


def count_redemption(discount: dict[str, Any] | None, resources: Any) -> None:
    """Count one use of *discount*'s promotion code (where the discount is not applied by a subscription, which
    counts its own)."""
    if discount and discount.get("promotion_code"):
        promotion = resources.store.get(store_key("promotion_code", discount["promotion_code"]))
        if promotion is not None:
            promotion.times_redeemed += 1


def validate_url(resources: Any, value: Any, param: str) -> None:
    """Refuse *value* for *param* unless it is an http(s) URL."""
    if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
        raise refuse(resources, "Not a valid URL", param, code="url_invalid")

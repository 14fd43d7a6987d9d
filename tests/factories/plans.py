"""Prices made at Stripe as if in the Dashboard, Stripe Prices as events carry them, and the spec stub taught to keep
prices (it stores only scalar fields, and filters lists on plain fields only)."""

from __future__ import annotations

import time
from typing import Any

from flask_stripe_billing.core.state import get_state
from tests.stripe_openapi.objects import new_id
from tests.stripe_openapi.stub import StripeStub, stripe_error


def dashboard_price(
    amount: int = 2000,
    *,
    product: str | None = None,
    product_name: str = "Pro",
    interval: str | None = "month",
    **params: Any,
) -> dict[str, Any]:
    """A price made at Stripe (with a new product named *product_name* unless *product* is given) through the
    gateway, as the Dashboard would: the application has no row for it.  ``interval=None`` makes a one-time
    price; *params* go to ``POST /v1/prices`` (``lookup_key``, ``active``, ``nickname``...)."""
    gateway = get_state().gateway
    if product is None:
        made = gateway.request("post", "/v1/products", {"name": product_name}, object_type="test", action="create")
        product = made["id"]
    values: dict[str, Any] = {"product": product, "unit_amount": amount, "currency": "usd", **params}
    if interval is not None:
        values["recurring"] = {"interval": interval}
    return gateway.request("post", "/v1/prices", values, object_type="test", action="create")


def price_object(price_id: str = "price_dashboard", **changes: Any) -> dict[str, Any]:
    """A recurring Stripe Price as an event carries it (its product by id), with *changes*."""
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": int(time.time()),
        "currency": "usd",
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": "prod_dashboard",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "trial_period_days": None},
        "tax_behavior": "unspecified",
        "type": "recurring",
        "unit_amount": 2000,
        "unit_amount_decimal": "2000",
        **changes,
    }


def serve_prices(stub: StripeStub) -> None:
    """Make *stub* keep prices as Stripe does: ``recurring`` and ``type`` from the request, lists filtered by
    ``lookup_keys``, ``active`` and ``type`` and paged by ``limit`` / ``starting_after``, ``expand`` of the product
    (``product`` on one price, ``data.product`` on a list)."""

    def create(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        product = params.get("product")
        if product not in stored:
            return stripe_error(400, f"No such product: '{product}'", param="product", code="resource_missing")
        key = params.get("lookup_key")
        if key and any(obj.get("object") == "price" and obj.get("lookup_key") == key for obj in stored.values()):
            return stripe_error(400, "A price already uses that lookup key.", param="lookup_key")
        recurring = params.get("recurring")
        price = price_object(
            new_id("price_"),
            product=product,
            unit_amount=params["unit_amount"],
            unit_amount_decimal=str(params["unit_amount"]),
            currency=params["currency"],
            lookup_key=key,
            nickname=params.get("nickname"),
            metadata=dict(params.get("metadata") or {}),
            active=params.get("active", True),
            type="recurring" if recurring else "one_time",
            recurring={"interval_count": 1, "usage_type": "licensed", **recurring} if recurring else None,
        )
        stored[price["id"]] = price
        return 200, price

    def listing(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prices = [obj for obj in reversed(stored.values()) if obj.get("object") == "price"]
        if params.get("lookup_keys"):
            prices = [price for price in prices if price.get("lookup_key") in params["lookup_keys"]]
        for name in ("active", "type"):
            if name in params:
                prices = [price for price in prices if price.get(name) == params[name]]
        ids = [price["id"] for price in prices]
        if params.get("starting_after") in ids:
            prices = prices[ids.index(params["starting_after"]) + 1 :]
        limit = int(params.get("limit", 10))
        expand = "data.product" in (params.get("expand") or [])
        data = [_with_product(price, stored) if expand else price for price in prices[:limit]]
        return 200, {"object": "list", "data": data, "has_more": len(prices) > limit, "url": "/v1/prices"}

    def retrieve(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        price = stored.get(params["price"])
        if price is None or price.get("object") != "price":
            return stripe_error(404, f"No such price: '{params['price']}'", param="id", code="resource_missing")
        return 200, _with_product(price, stored) if "product" in (params.get("expand") or []) else price

    stub.on("POST", "/v1/prices", create)
    stub.on("GET", "/v1/prices", listing)
    stub.on("GET", "/v1/prices/{price}", retrieve)


def _with_product(price: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    product = stored.get(price["product"]) if isinstance(price["product"], str) else None
    return {**price, "product": product} if product is not None else price

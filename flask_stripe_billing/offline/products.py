"""The offline Stripe's Products as Stripe keeps them (patched into localstripe in the server process).

localstripe's products refuse what Stripe's take (``default_price``, ``images``, ``tax_code``, ...), send no
``product.updated``, list by ``active`` only and answer a missing product with a bare "Not Found".  Here a
product keeps ``default_price`` (a price of its own; :mod:`.prices` also makes one from ``default_price_data``),
``images``, ``marketing_features``, ``package_dimensions``, ``tax_code``, ``unit_label`` and ``updated``;
``shippable`` is ``null`` unless given, as for a service; an update sends ``product.updated`` with
``previous_attributes``; lists take ``active``, ``created``, ``ids``, ``shippable`` and ``url`` with Stripe's
pagination; a missing product or a taken id gets Stripe's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .api import (
    as_bool,
    as_text,
    check_params,
    created_filter,
    equals,
    expand_own,
    metadata,
    no_such,
    page,
    send_event,
    stored,
    stripe_error,
)

KEPT = ("images", "marketing_features", "package_dimensions", "tax_code", "unit_label")
UPDATE_PARAMS: tuple[str, ...] = (
    "active",
    "default_price",
    "description",
    "images",
    "marketing_features",
    "metadata",
    "name",
)
UPDATE_PARAMS += ("package_dimensions", "shippable", "statement_descriptor", "tax_code", "unit_label", "url")
LIST_PARAMS = ("active", "created", "ids", "shippable", "url", "limit", "starting_after", "ending_before")


def _default_price(resources: Any, product: Any, value: Any) -> str | None:
    """The id of the price *value* names for *product*'s ``default_price``, checked (``""`` unsets it)."""
    if value in ("", None):
        return None
    price = resources.store.get("price:" + value) if isinstance(value, str) else None
    if price is None:
        raise no_such(resources, "price", value, "default_price")
    if price.product != product.id:
        raise stripe_error(resources, f"The price `{value}` does not belong to this product.", "default_price")
    if not price.active:
        raise stripe_error(resources, "The default price of a product must be active.", "default_price")
    return str(price.id)


def _new_values(resources: Any, product: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The attributes *data* (an update's parameters) give *product*, checked."""
    check_params(resources, data, UPDATE_PARAMS)
    new: dict[str, Any] = {}
    for name, value in data.items():
        if name == "metadata":
            new[name] = metadata(resources, value, product.metadata)
        elif name in ("active", "shippable"):
            new[name] = None if value == "" and name == "shippable" else as_bool(resources, value, name)
        elif name == "name":
            new[name] = as_text(resources, value, name, empty=False)
        elif name == "default_price":
            new[name] = _default_price(resources, product, value)
        elif name in ("images", "marketing_features"):
            new[name] = value if isinstance(value, list) else []
        else:
            new[name] = None if value == "" else value
    return new


def install(resources: Any) -> None:  # pragma: no cover - child process
    """Patch localstripe's Product class (see the module)."""
    product_class = resources.Product
    product_init, product_export = product_class.__init__, product_class._export

    def __init__(self: Any, *args: Any, shippable: Any = None, **kwargs: Any) -> None:
        kept = {name: kwargs.pop(name, None) for name in KEPT}
        if not args and kwargs.get("name") in (None, ""):
            raise stripe_error(resources, "Missing required param: name.", "name", "parameter_missing")
        if isinstance(kwargs.get("id"), str) and "product:" + kwargs["id"] in resources.store:
            raise stripe_error(resources, "Product already exists.", "id", "resource_already_exists")
        shippable = None if shippable in (None, "") else as_bool(resources, shippable, "shippable")
        product_init(self, *args, **kwargs)
        self.shippable, self.default_price, self.updated = shippable, None, self.created
        for name, value in kept.items():
            setattr(self, name, value or ([] if name in ("images", "marketing_features") else None))

    def _api_retrieve(cls: Any, product_id: Any, /) -> Any:
        found = resources.store.get("product:" + product_id) if isinstance(product_id, str) else None
        if found is None:
            raise no_such(resources, "product", product_id, "id", 404)
        return found

    def _api_update(cls: Any, product_id: str, /, **data: Any) -> Any:
        product = cls._api_retrieve(product_id)
        new = _new_values(resources, product, data)
        old = {name: getattr(product, name, None) for name in new}
        previous = {name: value for name, value in old.items() if value != new[name]}
        product.__dict__.update(new)
        if previous:
            product.updated = int(time.time())
            send_event(resources, "product.updated", product, previous)
        return product

    def _api_list_all(cls: Any, path: str, /, **data: Any) -> Any:
        check_params(resources, data, LIST_PARAMS)
        tests: list[Callable[[Any], bool]] = [created_filter(resources, data.get("created"))]
        for name in ("active", "shippable"):
            if data.get(name) is not None:
                tests.append(equals(name, as_bool(resources, data[name], name)))
        if data.get("ids") is not None:
            ids = data["ids"] if isinstance(data["ids"], list) else [data["ids"]]
            tests.append(lambda product: product.id in ids)
        if data.get("url") is not None:
            tests.append(equals("url", data["url"]))
        products = [product for product in stored(resources, "product") if all(test(product) for test in tests)]
        return page(resources, products, "/v1/products", data, "product")

    def _export(self: Any, expand: list[str] | None = None) -> dict[str, Any]:
        own = [path for path in expand or [] if path.partition(".")[0] == "default_price"]
        data: dict[str, Any] = product_export(self, [path for path in expand or [] if path not in own])
        expand_own(data, own, {"default_price": lambda price_id: resources.store["price:" + price_id]})
        return data

    product_class.__init__ = __init__
    product_class._api_retrieve = classmethod(_api_retrieve)
    product_class._api_update = classmethod(_api_update)
    product_class._api_list_all = classmethod(_api_list_all)
    product_class._export = _export

"""The offline Stripe's catalogue: Prices, and subscriptions on them (patched into localstripe in the server
process; localstripe knows Products and the legacy Plans only).

* **Prices** (``/v1/prices``): one-time and recurring, with ``lookup_key`` (unique among prices unless
  ``transfer_lookup_key`` moves it), ``nickname``, ``tax_behavior`` and ``metadata``; listed newest first with
  Stripe's filters and pages; ``price.created`` and ``price.updated`` are sent.  A recurring price is also a
  localstripe Plan of the same id, which subscriptions and invoices bill; a plan from ``/v1/plans`` is a price.
* **Subscriptions on prices**: ``items[i][price]`` or ``items[i][price_data]`` wherever ``items[i][plan]`` is
  taken; subscription items show ``price`` beside the legacy ``plan``, and their period.
* **Products** (:mod:`.products`) also take ``default_price_data``, which makes their ``default_price``.

Prices are kept in localstripe's store as ``price:<id>``; :func:`find_price` finds one for the rest of the
offline Stripe (:func:`price_of_plan` reads a Plan as one), :func:`find_promotion_code_by_code` a promotion
code by what a customer typed.  :func:`install` installs :mod:`.products`, :mod:`.promotion_codes` and
:mod:`.trials` too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from . import api, products, promotion_codes, trials
from .api import PAGE_PARAMS as PAGE_PARAMS
from .api import Page as Page
from .api import page as page
from .api import stripe_error as stripe_error
from .promotion_codes import find_promotion_code_by_code as find_promotion_code_by_code

PRICE_PARAMS: tuple[str, ...] = ("active", "billing_scheme", "currency", "lookup_key", "metadata", "nickname")
PRICE_PARAMS += ("product", "product_data", "recurring", "tax_behavior", "transfer_lookup_key", "unit_amount")
#: What ``price_data`` of a subscription item and ``default_price_data`` of a product take.
INLINE_PARAMS = ("currency", "metadata", "product", "recurring", "tax_behavior", "unit_amount")
PRODUCT_DATA_PARAMS = ("active", "id", "metadata", "name", "statement_descriptor", "tax_code", "unit_label")
LIST_PARAMS: tuple[str, ...] = ("active", "created", "currency", "lookup_keys", "product", "recurring", "type", "limit")
LIST_PARAMS += ("starting_after", "ending_before")
INTERVALS = ("day", "week", "month", "year")
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")
USAGE_TYPES = ("licensed", "metered")


def _localstripe() -> Any:  # pragma: no cover - child process
    from localstripe import resources

    return resources


class Price:
    """A Price, in localstripe's store as ``price:<id>``; ``recurring`` is ``None`` for a one-time price."""

    object = "price"
    FIELDS: tuple[str, ...] = (
        "id",
        "object",
        "active",
        "billing_scheme",
        "created",
        "currency",
        "custom_unit_amount",
        "livemode",
    )
    FIELDS += ("lookup_key", "metadata", "nickname", "product", "recurring", "tax_behavior", "tiers_mode")
    FIELDS += ("transform_quantity", "type", "unit_amount", "unit_amount_decimal")
    id: str
    active: bool
    currency: str
    unit_amount: int | None
    product: str
    recurring: dict[str, Any] | None
    lookup_key: str | None
    nickname: str | None
    metadata: dict[str, str]
    tax_behavior: str

    def __init__(self, **values: Any) -> None:
        self.custom_unit_amount = self.transform_quantity = self.tiers_mode = None
        self.livemode, self.billing_scheme, self.tax_behavior = False, "per_unit", "unspecified"
        self.created = int(time.time())
        self.__dict__.update(values)

    @property
    def type(self) -> str:
        """``recurring`` or ``one_time``."""
        return "recurring" if self.recurring else "one_time"

    @property
    def unit_amount_decimal(self) -> str | None:
        """The unit amount as Stripe's decimal string."""
        return None if self.unit_amount is None else str(self.unit_amount)

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.FIELDS}
        data["metadata"], data["recurring"] = dict(self.metadata), self.recurring and dict(self.recurring)
        api.expand_own(data, expand, {"product": lambda product: _localstripe().Product._api_retrieve(product)})
        return data


def find_price(resources: Any, price_id: Any, param: str = "price", status: int = 404) -> Price:
    """The price *price_id*, or Stripe's ``No such price`` error (404 naming *param*; ``status=400`` when a
    parameter names the price)."""
    found = resources.store.get("price:" + price_id) if isinstance(price_id, str) else None
    if found is None:
        raise api.no_such(resources, "price", price_id, param, status)
    return found  # type: ignore[no-any-return]


def price_of_plan(plan: Any) -> Price:
    """The Price a localstripe Plan is, as at Stripe (not stored)."""
    recurring = {"interval": plan.interval, "interval_count": plan.interval_count, "meter": None}
    recurring |= {"trial_period_days": plan.trial_period_days, "usage_type": plan.usage_type}
    return Price(
        id=plan.id, active=plan.active, billing_scheme=plan.billing_scheme, created=plan.created,
        currency=plan.currency, lookup_key=None, metadata=dict(plan.metadata or {}), nickname=plan.nickname,
        product=plan.product, recurring=recurring, tiers_mode=plan.tiers_mode,
        unit_amount=plan.amount if plan.billing_scheme == "per_unit" else None,
    )  # fmt: skip


def _recurring(resources: Any, value: Any, name: str) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    value = api.sub_object(resources, value, name, ("interval", "interval_count", "trial_period_days", "usage_type"))
    if value.get("interval") is None:
        raise api.missing_param(resources, f"{name}[interval]")
    days = value.get("trial_period_days")
    return {
        "interval": api.choice(resources, value["interval"], f"{name}[interval]", INTERVALS),
        "interval_count": api.as_int(resources, value.get("interval_count", 1), f"{name}[interval_count]", minimum=1),
        "meter": None,
        "usage_type": api.choice(resources, value.get("usage_type", "licensed"), f"{name}[usage_type]", USAGE_TYPES),
        "trial_period_days": None if days in (None, "") else api.as_int(resources, days, f"{name}[trial_period_days]"),
    }  # fmt: skip


def _unit_amount(resources: Any, data: dict[str, Any], prefix: str) -> int:
    if data.get("unit_amount") is None:
        raise api.missing_param(resources, api.param_name(prefix, "unit_amount"))
    return api.as_int(resources, data["unit_amount"], api.param_name(prefix, "unit_amount"))


def _product(resources: Any, data: dict[str, Any], prefix: str) -> Any:
    """The product id a new price names, or the checked ``product_data`` to make one from."""
    product, product_data = data.get("product"), data.get("product_data")
    if product is not None and product_data is not None:
        raise api.one_of(resources, api.param_name(prefix, "product"), api.param_name(prefix, "product_data"))
    if product_data is not None:
        name = api.param_name(prefix, "product_data")
        if not api.sub_object(resources, product_data, name, PRODUCT_DATA_PARAMS).get("name"):
            raise api.missing_param(resources, f"{name}[name]")
        return dict(product_data)
    if product in (None, ""):
        raise api.missing_param(resources, api.param_name(prefix, "product"))
    if not isinstance(product, str) or "product:" + product not in resources.store:
        raise api.no_such(resources, "product", product, api.param_name(prefix, "product"))
    return product


def price_values(resources: Any, data: dict[str, Any], prefix: str = "", product: str | None = None) -> dict[str, Any]:
    """Check the parameters *data* of a new price (inside *prefix*, for ``price_data``) and return its values,
    changing nothing; *product* stands for a product made with it."""

    def name(param: str) -> str:
        return api.param_name(prefix, param)

    api.check_params(resources, data, PRICE_PARAMS, prefix)
    currency = data.get("currency")
    if currency in (None, ""):
        raise api.missing_param(resources, name("currency"))
    if not isinstance(currency, str) or not re.fullmatch("[A-Za-z]{3}", currency):
        raise stripe_error(resources, f"Invalid currency: {currency}.", name("currency"))
    if data.get("billing_scheme", "per_unit") != "per_unit":
        raise stripe_error(resources, "The offline Stripe takes per_unit prices only.", name("billing_scheme"))
    lookup_key = api.as_text(resources, data.get("lookup_key"), name("lookup_key"))
    if lookup_key is not None and len(lookup_key) > 200:
        raise stripe_error(resources, "Invalid lookup_key: must be at most 200 characters", name("lookup_key"))
    return {
        "currency": currency.lower(), "unit_amount": _unit_amount(resources, data, prefix),
        "product": _product(resources, data, prefix) if product is None else product,
        "recurring": _recurring(resources, data.get("recurring"), name("recurring")), "lookup_key": lookup_key,
        "tax_behavior": api.choice(
            resources, data.get("tax_behavior", "unspecified"), name("tax_behavior"), TAX_BEHAVIORS
        ),
        "nickname": api.as_text(resources, data.get("nickname"), name("nickname")),
        "active": api.as_bool(resources, data.get("active", True), name("active")),
        "metadata": api.metadata(resources, data.get("metadata"), param=name("metadata")),
        "_transfer": api.as_bool(resources, data.get("transfer_lookup_key", False), name("transfer_lookup_key")),
    }  # fmt: skip


def _lookup_key_holder(resources: Any, key: str | None, transfer: bool) -> Price | None:
    """The price holding *key* that gives it up (``transfer``), or ``None``; refused when taken otherwise."""
    holder = next((price for price in api.stored(resources, "price") if key and price.lookup_key == key), None)
    if holder is not None and not transfer:
        raise stripe_error(resources, f"A price (`{holder.id}`) already uses that lookup key.", "lookup_key")
    return holder


def _give_up_lookup_key(resources: Any, holder: Price | None) -> None:
    if holder is not None:
        previous, holder.lookup_key = holder.lookup_key, None
        api.send_event(resources, "price.updated", holder, {"lookup_key": previous})


def make_price(resources: Any, values: dict[str, Any]) -> Price:
    """Store the price of *values* (from :func:`price_values`), with its Plan if recurring, and send
    ``price.created``."""
    values = dict(values)
    holder = _lookup_key_holder(resources, values["lookup_key"], values.pop("_transfer"))
    if isinstance(values["product"], dict):
        values["product"] = resources.Product(**values["product"]).id
    price = Price(id="price_" + resources.random_id(24), **values)
    resources.store["price:" + price.id] = price
    if price.recurring:
        resources.Plan(
            id=price.id, amount=price.unit_amount, currency=price.currency, interval=price.recurring["interval"],
            interval_count=price.recurring["interval_count"], trial_period_days=price.recurring["trial_period_days"],
            usage_type=price.recurring["usage_type"], product=price.product, nickname=price.nickname,
            active=price.active, metadata=dict(price.metadata),
        )  # fmt: skip
    _give_up_lookup_key(resources, holder)
    api.send_event(resources, "price.created", price)
    return price


def _update_price(resources: Any, price_id: str, data: dict[str, Any]) -> Price:
    price = find_price(resources, price_id)
    api.check_params(
        resources, data, ("active", "lookup_key", "metadata", "nickname", "tax_behavior", "transfer_lookup_key")
    )
    new: dict[str, Any] = {"metadata": api.metadata(resources, data.get("metadata"), price.metadata)}
    if "active" in data:
        new["active"] = api.as_bool(resources, data["active"], "active")
    if "nickname" in data:
        new["nickname"] = api.as_text(resources, data["nickname"], "nickname")
    if data.get("tax_behavior") not in (None, price.tax_behavior):
        if price.tax_behavior != "unspecified":
            raise stripe_error(resources, "tax_behavior cannot be changed once specified.", "tax_behavior")
        new["tax_behavior"] = api.choice(resources, data["tax_behavior"], "tax_behavior", TAX_BEHAVIORS)
    holder = None
    if "lookup_key" in data:
        new["lookup_key"] = api.as_text(resources, data["lookup_key"], "lookup_key")
        transfer = api.as_bool(resources, data.get("transfer_lookup_key", False), "transfer_lookup_key")
        if new["lookup_key"] != price.lookup_key:
            holder = _lookup_key_holder(resources, new["lookup_key"], transfer)
    previous = {name: getattr(price, name) for name, value in new.items() if value != getattr(price, name)}
    _give_up_lookup_key(resources, holder)
    price.__dict__.update(new)
    plan = resources.store.get("plan:" + price.id)
    if plan is not None:
        plan.active, plan.nickname, plan.metadata = price.active, price.nickname, dict(price.metadata)
    if previous:
        api.send_event(resources, "price.updated", price, previous)
    return price


def _list_prices(resources: Any, data: dict[str, Any]) -> Page:
    api.check_params(resources, data, LIST_PARAMS)
    tests: list[Callable[[Price], bool]] = [api.created_filter(resources, data.get("created"))]
    if data.get("active") is not None:
        active = api.as_bool(resources, data["active"], "active")
        tests.append(lambda price: price.active == active)
    for name in ("currency", "product", "type"):
        if data.get(name) is not None:
            tests.append(api.equals(name, data[name]))
    if data.get("type") is not None:
        api.choice(resources, data["type"], "type", ("one_time", "recurring"))
    if data.get("lookup_keys") is not None:
        keys = data["lookup_keys"] if isinstance(data["lookup_keys"], list) else [data["lookup_keys"]]
        tests.append(lambda price: price.lookup_key is not None and price.lookup_key in keys)
    if data.get("recurring") is not None:
        wanted = api.sub_object(resources, data["recurring"], "recurring", ("interval", "meter", "usage_type")).items()
        tests.append(
            lambda price: bool(price.recurring) and all((price.recurring or {}).get(k) == v for k, v in wanted)
        )
    prices = [price for price in api.stored(resources, "price") if all(test(price) for test in tests)]
    return page(resources, prices, "/v1/prices", data, "price")


def plan_for_item(resources: Any, price: Any, price_data: Any, prefix: str) -> str:
    """The Plan a subscription item on *price* (or on a new price from *price_data*) bills: the price's id."""
    if price is not None and price_data is not None:
        raise api.one_of(resources, api.param_name(prefix, "price"), api.param_name(prefix, "price_data"))
    if price_data is not None:
        name = api.param_name(prefix, "price_data")
        values = price_values(resources, api.sub_object(resources, price_data, name, INLINE_PARAMS), name)
        if values["recurring"] is None:
            raise api.missing_param(resources, f"{name}[recurring]")
        return make_price(resources, {**values, "active": False}).id  # an inline price is not offered again
    found = find_price(resources, price, api.param_name(prefix, "price"), 400)
    if not found.recurring or not found.active:
        message = "The price specified is inactive. This field only accepts active prices."
        if not found.recurring:
            message = "The price specified is set to `type=one_time` but this field only accepts recurring prices."
        raise stripe_error(resources, message, api.param_name(prefix, "price"))
    return found.id


def items_on_plans(resources: Any, items: Any) -> Any:
    """Subscription *items* with each ``price`` or ``price_data`` turned into the ``plan`` localstripe bills."""
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and ("price" in item or "price_data" in item):
            if item.get("plan") is not None:
                raise api.one_of(resources, f"items[{index}][price]", f"items[{index}][plan]")
            price, price_data = item.pop("price", None), item.pop("price_data", None)
            item["plan"] = plan_for_item(resources, price, price_data, f"items[{index}]")
    return items


def _install_plans(resources: Any) -> None:  # pragma: no cover - child process
    plan_class = resources.Plan
    plan_init, plan_update = plan_class.__init__, plan_class._api_update

    def mirror(plan: Any) -> None:
        if "price:" + plan.id not in resources.store:  # a plan made through /v1/plans is a price too
            resources.store["price:" + plan.id] = price = price_of_plan(plan)
            api.send_event(resources, "price.created", price)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        plan_init(self, *args, **kwargs)
        mirror(self)

    def _api_update(cls: Any, plan_id: str, /, **data: Any) -> Any:
        plan = plan_update(plan_id, **data)
        price = resources.store.get("price:" + plan.id)
        new = {"active": plan.active, "nickname": plan.nickname, "metadata": dict(plan.metadata or {})}
        previous = {name: getattr(price, name) for name, value in new.items() if getattr(price, name, value) != value}
        if previous:
            price.__dict__.update(new)
            api.send_event(resources, "price.updated", price, previous)
        return plan

    plan_class.__init__ = __init__
    plan_class._api_update = classmethod(_api_update)
    for plan in api.stored(resources, "plan"):  # the plans of a store kept from before
        mirror(plan)


def _install_items(resources: Any) -> None:  # pragma: no cover - child process
    item_class, subscription_class = resources.SubscriptionItem, resources.Subscription
    item_init, subscription_init = item_class.__init__, subscription_class.__init__
    subscription_update = subscription_class._update

    def item__init__(self: Any, *args: Any, price: Any = None, price_data: Any = None, **kwargs: Any) -> None:
        if price is not None or price_data is not None:
            if kwargs.get("plan") is not None:
                raise api.one_of(resources, "price", "plan")
            kwargs["plan"] = plan_for_item(resources, price, price_data, "")
        item_init(self, *args, **kwargs)

    def item_price(self: Any) -> dict[str, Any]:
        return (resources.store.get("price:" + self.plan.id) or price_of_plan(self.plan))._export()

    def subscription__init__(self: Any, *args: Any, items: Any = None, **kwargs: Any) -> None:
        subscription_init(self, *args, items=items_on_plans(resources, items), **kwargs)

    def _update(self: Any, *args: Any, items: Any = None, **data: Any) -> None:
        subscription_update(self, *args, items=items_on_plans(resources, items), **data)

    item_class.__init__ = item__init__
    item_class.price = property(item_price)
    item_class.current_period_start = property(lambda self: self._current_period()["start"])
    item_class.current_period_end = property(lambda self: self._current_period()["end"])
    subscription_class.__init__ = subscription__init__
    subscription_class._update = _update


def _install_default_price(resources: Any) -> None:  # pragma: no cover - child process
    product_init = resources.Product.__init__

    def __init__(self: Any, *args: Any, default_price_data: Any = None, **kwargs: Any) -> None:
        values = None
        if default_price_data is not None:  # checked before the product is made
            inline = api.sub_object(resources, default_price_data, "default_price_data", INLINE_PARAMS)
            values = price_values(resources, inline, "default_price_data", product="")
        product_init(self, *args, **kwargs)
        if values is not None:
            self.default_price = make_price(resources, {**values, "product": self.id}).id
            api.refresh_event(resources, "product.created", self)

    resources.Product.__init__ = __init__


def install(resources: Any) -> None:  # pragma: no cover - child process
    """Serve Prices, make Plans prices and bill subscriptions on prices (see the module); install Products,
    promotion codes and trials."""
    api.add_route("POST", "/v1/prices", lambda data: make_price(resources, price_values(resources, data)))
    api.add_route("GET", "/v1/prices", lambda data: _list_prices(resources, data))
    api.add_route("GET", "/v1/prices/{id}", lambda price_id, data: find_price(resources, price_id))
    api.add_route("POST", "/v1/prices/{id}", lambda price_id, data: _update_price(resources, price_id, data))
    _install_plans(resources)
    _install_items(resources)
    products.install(resources)
    _install_default_price(resources)
    promotion_codes.install(resources)
    trials.install(resources)

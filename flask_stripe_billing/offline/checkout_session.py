"""The offline Stripe's Checkout Sessions (in the server process): the object, and its creation checked as
Stripe checks it.  Their routes and hosted page are in :mod:`.checkout`.

* ``POST /v1/checkout/sessions`` in ``payment``, ``subscription`` and ``setup`` mode, checked as Stripe checks
  it; ``GET /v1/checkout/sessions/{id}``, ``GET /v1/checkout/sessions`` (``customer``, ``payment_intent``,
  ``subscription``), ``POST .../{id}/expire`` and ``GET .../{id}/line_items``.
* Each session's ``url`` (``http://<this server>/checkout/pay/<id>``) is its hosted page
  (:mod:`.checkout`), which completes it.
* Stripe takes an ``expires_at`` 30 minutes to 24 hours away; tests bring it closer with
  ``POST /_config/checkout/sessions/{id}`` (``expires_at``), an offline addition.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from . import api, prices, subscriptions
from .common import (
    Price,
    as_price,
    find_price,
    product_name,
    promotion_coupon,
    refuse,
    store_key,
    validate_url,
)

MODES = ("payment", "subscription", "setup")
PAYMENT_METHOD_TYPES = ("card", "sepa_debit")
MIN_LIFETIME, MAX_LIFETIME = 30 * 60, 24 * 3600
#: Parameters taken and ignored: what they change is not shown offline.
IGNORED = frozenset((
    "after_expiration", "automatic_tax", "billing_address_collection", "consent_collection", "custom_fields",
    "custom_text", "customer_update", "invoice_creation", "locale", "payment_method_collection",
    "payment_method_options", "phone_number_collection", "saved_payment_method_options",
    "shipping_address_collection", "submit_type", "tax_id_collection",
))  # fmt: skip
KNOWN = IGNORED | frozenset((
    "allow_promotion_codes", "cancel_url", "client_reference_id", "currency", "customer", "customer_creation",
    "customer_email", "discounts", "expires_at", "line_items", "metadata", "mode", "payment_intent_data",
    "payment_method_types", "return_url", "setup_intent_data", "subscription_data", "success_url", "ui_mode",
))  # fmt: skip
#: The ``*_data`` parameters: the mode each belongs to and the keys it takes.
INTENT_DATA = {
    "subscription_data": ("subscription", "description metadata trial_end trial_period_days"),
    "payment_intent_data": ("payment", "capture_method description metadata receipt_email setup_future_usage "
                            "statement_descriptor statement_descriptor_suffix"),
    "setup_intent_data": ("setup", "description metadata"),
}  # fmt: skip
#: The fields of a session that stay as they are offline.
FIXED = {
    "object": "checkout.session", "livemode": False, "invoice": None, "payment_link": None,
    "after_expiration": None, "billing_address_collection": None, "consent": None, "consent_collection": None,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "currency_conversion": None, "custom_fields": [], "locale": None, "payment_method_options": {},
    "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                    "terms_of_service_acceptance": None},
    "phone_number_collection": {"enabled": False}, "recovered_from": None, "shipping_address_collection": None,
    "shipping_cost": None, "shipping_options": [], "submit_type": None, "adaptive_pricing": {"enabled": False},
    "collected_information": None, "customer_account": None, "integration_identifier": None,
    "managed_payments": None, "origin_context": None, "payment_method_configuration_details": None,
    "permissions": None, "saved_payment_method_options": None, "wallet_options": None,
}  # fmt: skip
INVOICE_CREATION = {"enabled": False, "invoice_data": {
    "account_tax_ids": None, "custom_fields": None, "description": None, "footer": None, "issuer": None,
    "metadata": {}, "rendering_options": None,
}}  # fmt: skip


class CheckoutSession:
    """A Checkout Session, kept in localstripe's store as ``checkout.session:<id>``."""

    object = "checkout.session"
    # Set from the checked parameters by create_session().
    ui_mode: str
    success_url: str | None
    cancel_url: str | None
    customer: str | None
    customer_email: str | None
    customer_creation: str | None
    expires_at: int
    currency: str | None
    payment_method_types: list[str]
    allow_promotion_codes: bool | None
    _lines: list[dict[str, Any]]
    _discount: dict[str, Any] | None
    _subscription_data: dict[str, Any]
    _payment_intent_data: dict[str, Any]
    _setup_intent_data: dict[str, Any]

    def __init__(self, resources: Any, mode: str, fields: dict[str, Any]) -> None:
        self.id = "cs_test_" + resources.random_id(40)
        self.created, self.mode, self.status = int(time.time()), mode, "open"
        self.customer_details: dict[str, Any] | None = None
        self.subscription: str | None = None
        self.payment_intent: str | None = None
        self.setup_intent: str | None = None
        self.url: str | None = None
        self.client_secret: str | None = None
        self.__dict__.update(fields)
        self._setup_intents: list[str] = []
        self._paid = False
        self._pending_payment: str | None = None
        self._new_customer: str | None = None
        resources.store[store_key(self.object, self.id)] = self

    @property
    def trial(self) -> bool:
        """Whether the subscription starts with a trial (nothing recurring is due today)."""
        return bool(self._subscription_data.get("trial_period_days") or self._subscription_data.get("trial_end"))

    def amounts(self) -> tuple[int, int, int]:
        """``(subtotal, discount, total)`` due today, in minor units."""
        subtotal = sum(0 if self.trial and line["recurring"] else line["unit_amount"] * line["quantity"]
                       for line in self._lines)  # fmt: skip
        coupon = self._discount["_coupon"] if self._discount else None
        discount = 0
        if coupon is not None and coupon.percent_off is not None:
            discount = (subtotal * round(float(coupon.percent_off) * 100) + 5000) // 10000  # half up, exact
        elif coupon is not None and (coupon.currency or "").lower() == self.currency:
            discount = int(coupon.amount_off)
        discount = min(subtotal, discount)
        return subtotal, discount, subtotal - discount

    @property
    def payment_status(self) -> str:
        """``paid``, ``unpaid`` or ``no_payment_required``, as Stripe reports it."""
        if self.mode == "setup" or (self.amounts()[2] == 0 and not self._paid):
            return "no_payment_required"
        return "paid" if self._paid else "unpaid"

    def line_items(self) -> list[dict[str, Any]]:
        """The line items as Stripe's ``item`` objects, the discount spread over them in proportion."""
        subtotal, discount, _ = self.amounts()
        items, left = [], discount
        for index, line in enumerate(self._lines):
            amount = line["unit_amount"] * line["quantity"]
            share = left if index == len(self._lines) - 1 else (discount * amount // subtotal if subtotal else 0)
            left -= share
            items.append({
                "id": line["id"], "object": "item", "amount_discount": share, "amount_subtotal": amount,
                "amount_tax": 0, "amount_total": amount - share, "currency": line["currency"],
                "description": line["name"], "price": line["price"], "quantity": line["quantity"],
                "adjustable_quantity": None, "metadata": {},
            })  # fmt: skip
        return items

    def _export(self, expand: Any = None) -> dict[str, Any]:
        subtotal, discount, total = self.amounts()
        data = {key: copy.deepcopy(value) for key, value in vars(self).items() if not key.startswith("_")}
        data |= copy.deepcopy(FIXED) | {
            "amount_subtotal": subtotal, "amount_total": total, "payment_status": self.payment_status,
            "total_details": {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0},
            "discounts": [{key: self._discount[key] for key in ("coupon", "promotion_code")}] if self._discount else [],
            "payment_method_collection": "always" if self.mode == "subscription" else None,
            "invoice_creation": copy.deepcopy(INVOICE_CREATION) if self.mode == "payment" else None,
        }  # fmt: skip
        if "line_items" in (expand or []):
            url = f"/v1/checkout/sessions/{self.id}/line_items"
            data["line_items"] = {"object": "list", "data": self.line_items(), "has_more": False, "url": url}
        if expand:
            from localstripe import resources  # the server process's, which made the objects

            kinds = {"customer": "Customer", "payment_intent": "PaymentIntent", "setup_intent": "SetupIntent",
                     "subscription": "Subscription"}  # fmt: skip
            finders = {field: getattr(resources, kind)._api_retrieve for field, kind in kinds.items()}
            api.expand_own(data, [path for path in expand if path != "line_items"], finders)
        return data


def _dict(resources: Any, value: Any, param: str, allowed: str | None = None) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise refuse(resources, f"Invalid {param}: must be an object.", param)
    if allowed is not None:
        api.check_params(resources, value, allowed.split(), param)
    return value


def _line(resources: Any, mode: str, index: int, item: Any) -> dict[str, Any]:
    """One ``line_items[index]``, checked, with its price."""
    param = f"line_items[{index}]"
    item = _dict(resources, item, param, "adjustable_quantity price price_data quantity")
    if ("price" in item) == ("price_data" in item):
        raise refuse(resources, f"You must specify either `price` or `price_data` in {param}.", param)
    if "quantity" not in item:
        raise refuse(resources, f"Quantity is required. Add `quantity` to `{param}`.", f"{param}[quantity]")
    quantity = api.as_int(resources, item["quantity"], f"{param}[quantity]", minimum=1)
    if "price" in item:
        price = find_price(resources, item["price"], f"{param}[price]")
        if not price.active:
            message = "The price specified is inactive. This field only accepts active prices."
            raise refuse(resources, message, f"{param}[price]")
    else:
        price = _inline_price(resources, mode, _dict(resources, item["price_data"], f"{param}[price_data]"), param)
    return {"id": "li_" + resources.random_id(24), "price": price.data, "price_id": price.id, "quantity": quantity,
            "unit_amount": price.unit_amount, "currency": price.currency, "recurring": price.recurring,
            "name": product_name(resources, price.product)}  # fmt: skip


def _inline_price(resources: Any, mode: str, data: dict[str, Any], param: str) -> Price:
    """The price of a ``price_data`` line, not kept in the catalogue (payment mode: one-time prices only)."""
    param += "[price_data]"
    api.check_params(resources, data, ("currency", "product", "product_data", "unit_amount", "tax_behavior"), param)
    if mode != "payment":
        raise refuse(resources, "The offline Stripe takes price_data in payment mode only.", param)
    currency = data.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise refuse(resources, f"Missing required param: {param}[currency].", f"{param}[currency]")
    amount = api.as_int(resources, data.get("unit_amount"), f"{param}[unit_amount]")
    if data.get("product"):
        product = resources.Product._api_retrieve(str(data["product"])).id
    else:
        name = _dict(resources, data.get("product_data"), f"{param}[product_data]").get("name")
        if not isinstance(name, str) or not name:
            missing = f"{param}[product_data][name]"
            raise refuse(resources, f"Missing required param: {missing}.", missing)
        product = resources.Product(name=name).id
    return as_price(prices.Price(
        id="price_" + resources.random_id(24), active=False, currency=currency.lower(), lookup_key=None,
        metadata={}, nickname=None, product=product, recurring=None, unit_amount=amount,
    ))  # fmt: skip


def _discount(resources: Any, data: dict[str, Any], mode: str) -> dict[str, Any] | None:
    """The session's discount from ``discounts`` (a coupon or a promotion code), checked."""
    discounts = data.get("discounts")
    if discounts in (None, "", []):
        return None
    if resources.try_convert_to_bool(data.get("allow_promotion_codes")) is True:
        raise refuse(resources, "You may only specify one of these parameters: allow_promotion_codes, discounts.")
    if mode == "setup":
        raise refuse(resources, "You can not pass `discounts` in `setup` mode.", "discounts")
    if not isinstance(discounts, list) or len(discounts) != 1:
        raise refuse(resources, "Checkout takes one discount: discounts[0].", "discounts")
    entry = _dict(resources, discounts[0], "discounts[0]", "coupon promotion_code")
    if entry.get("promotion_code"):
        promotion = resources.store.get(store_key("promotion_code", str(entry["promotion_code"])))
        if promotion is None:
            message = f"No such promotion code: '{entry['promotion_code']}'"
            raise refuse(resources, message, "discounts[0][promotion_code]", status=404)
        return applied(resources, promotion, data.get("customer"))
    coupon = subscriptions._one_coupon(resources, [{"coupon": entry.get("coupon")}], None)
    return {"coupon": coupon.id, "promotion_code": None, "code": None, "_coupon": coupon} if coupon else None


def applied(resources: Any, promotion: Any, customer: str | None) -> dict[str, Any]:
    """The discount of *promotion* (a promotion code) for *customer*, or Stripe's refusal when it cannot be
    redeemed now."""
    coupon = promotion_coupon(resources, promotion, customer)
    if coupon is None:
        raise refuse(resources, "This code is invalid.", "discounts[0][promotion_code]")
    return {"coupon": coupon.id, "promotion_code": promotion.id, "code": promotion.code, "_coupon": coupon}


def _urls(resources: Any, data: dict[str, Any], ui_mode: str) -> None:
    urls = ("success_url", "cancel_url") if ui_mode == "hosted" else ("return_url",)
    for name in sorted({"success_url", "cancel_url", "return_url"} - set(urls)):
        if data.get(name):
            raise refuse(resources, f"`{name}` is not allowed when `ui_mode` is `{ui_mode}`.", name)
    if not data.get(urls[0]):
        raise refuse(resources, f"Missing required param: {urls[0]}.", urls[0], code="parameter_missing")
    for name in urls:
        validate_url(resources, data.get(name), name)


def _customer(resources: Any, data: dict[str, Any], mode: str) -> tuple[str | None, str | None]:
    """``(customer, customer_creation)`` of the session, checked."""
    customer, creation = data.get("customer") or None, data.get("customer_creation")
    for other in ("customer_email", "customer_creation"):
        if customer and data.get(other):
            raise refuse(resources, f"You may only specify one of these parameters: customer, {other}.")
    if customer and resources.store.get(store_key("customer", str(customer))) is None:
        raise refuse(resources, f"No such customer: '{customer}'", "customer", status=404)
    if creation is not None and (creation not in ("always", "if_required") or mode == "subscription"):
        message = "`customer_creation` takes `always` or `if_required`, in `payment` or `setup` mode."
        raise refuse(resources, message, "customer_creation")
    return customer, None if mode == "subscription" else (creation or "if_required")


def _lines(resources: Any, data: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    items = data.get("line_items") or []
    if mode == "setup" and items:
        raise refuse(resources, "You can not pass `line_items` in `setup` mode.", "line_items")
    if mode != "setup" and not items:
        raise refuse(resources, "Missing required param: line_items.", "line_items", code="parameter_missing")
    if not isinstance(items, list):
        raise refuse(resources, "Invalid line_items: must be a list.", "line_items")
    lines = [_line(resources, mode, index, item) for index, item in enumerate(items)]
    recurring = [line for line in lines if line["recurring"]]
    if mode == "payment" and recurring:
        message = ("You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                   "mode or use only one-time prices.")  # fmt: skip
        raise refuse(resources, message, "line_items")
    if mode == "subscription" and len(recurring) != 1:
        message = ("You must provide at least one recurring price in `subscription` mode when using prices."
                   if not recurring else "The offline Stripe takes one recurring price per subscription.")  # fmt: skip
        raise refuse(resources, message, "line_items")
    return lines


def create_session(resources: Any, data: dict[str, Any], host: str) -> CheckoutSession:
    """A new open session from the parameters of ``POST /v1/checkout/sessions`` (refused as Stripe refuses)."""
    api.check_params(resources, data, KNOWN)
    mode = data.get("mode")
    if mode is None:
        raise refuse(resources, "Missing required param: mode.", "mode", code="parameter_missing")
    if mode not in MODES:
        raise refuse(resources, "Invalid mode: must be one of payment, setup or subscription", "mode")
    ui_mode = data.get("ui_mode") or "hosted"
    if ui_mode not in ("hosted", "embedded"):
        raise refuse(resources, "Invalid ui_mode: must be one of embedded or hosted", "ui_mode")
    _urls(resources, data, ui_mode)
    customer, creation = _customer(resources, data, mode)
    lines = _lines(resources, data, mode)
    currencies = {line["currency"] for line in lines} | (
        {str(data["currency"]).lower()} if data.get("currency") else set()
    )
    if len(currencies) > 1:
        raise refuse(resources, "All line items and `currency` must be in the same currency.", "currency")
    extra = {}
    for name, (only, keys) in INTENT_DATA.items():
        extra[name] = _dict(resources, data.get(name), name, keys)
        if extra[name] and mode != only:
            raise refuse(resources, f"You can not pass `{name}` in `{mode}` mode.", name)
    trial = extra["subscription_data"]
    if "trial_period_days" in trial:
        days = api.as_int(resources, trial["trial_period_days"], "subscription_data[trial_period_days]", 1)
        trial["trial_period_days"] = days
    now = int(time.time())
    expires_at = api.as_int(resources, data.get("expires_at", now + MAX_LIFETIME), "expires_at")
    if not now + MIN_LIFETIME - 60 <= expires_at <= now + MAX_LIFETIME:
        message = "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation."
        raise refuse(resources, message, "expires_at")
    types = data.get("payment_method_types") or ["card"]
    if not isinstance(types, list) or not set(types) <= set(PAYMENT_METHOD_TYPES):
        message = "The offline Stripe takes the payment_method_types card and sepa_debit."
        raise refuse(resources, message, "payment_method_types")
    reference = data.get("client_reference_id")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 200):
        message = "Invalid client_reference_id: a string of up to 200 characters."
        raise refuse(resources, message, "client_reference_id")
    fields = {
        "ui_mode": ui_mode, "success_url": data.get("success_url"), "cancel_url": data.get("cancel_url"),
        "return_url": data.get("return_url"), "customer": customer, "customer_email": data.get("customer_email"),
        "customer_creation": creation, "client_reference_id": reference, "expires_at": expires_at,
        "metadata": api.metadata(resources, data.get("metadata")), "currency": next(iter(currencies), None),
        "payment_method_types": list(types),
        "allow_promotion_codes": resources.try_convert_to_bool(data.get("allow_promotion_codes")) is True or None,
        "_lines": lines, "_discount": _discount(resources, data, mode), "_subscription_data": trial,
        "_payment_intent_data": extra["payment_intent_data"], "_setup_intent_data": extra["setup_intent_data"],
    }  # fmt: skip
    session = CheckoutSession(resources, mode, fields)
    if ui_mode == "hosted":
        session.url = f"http://{host}/checkout/pay/{session.id}"
    else:
        session.client_secret = f"{session.id}_secret_{resources.random_id(24)}"
    if mode == "setup":
        setup_intent_of(resources, session)
    return session


def setup_intent_of(resources: Any, session: CheckoutSession) -> Any:
    """The SetupIntent the page confirms the card with: the last one if it still waits for a card, else a new
    one (in setup mode, it becomes the session's ``setup_intent``)."""
    if session._setup_intents:
        last = resources.SetupIntent._api_retrieve(session._setup_intents[-1])
        if last.status == "requires_payment_method":
            return last
    metadata = dict(session._setup_intent_data.get("metadata") or {})
    intent = resources.SetupIntent(customer=session.customer, payment_method_types=list(session.payment_method_types),
                                   metadata=metadata)  # fmt: skip
    session._setup_intents.append(intent.id)
    if session.mode == "setup":
        session.setup_intent = intent.id
    return intent

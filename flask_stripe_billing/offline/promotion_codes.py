"""The offline Stripe's promotion codes, and their redemption on subscriptions (added to localstripe in the
server process).

A promotion code is a customer-facing ``code`` for a coupon.  ``POST /v1/promotion_codes`` takes the coupon as
``promotion[type]=coupon`` and ``promotion[coupon]`` (the current API) or as ``coupon`` (before it), with
``code`` (made up when not given), ``active``, ``max_redemptions``, ``expires_at``, ``customer``,
``restrictions`` and ``metadata``; a code is shown with ``promotion`` and, for older readers, the whole
``coupon``.  Codes are unique among active codes, in any case.  Updates take ``active``, ``metadata`` and
``restrictions``; lists filter by ``active``, ``code``, ``coupon``, ``customer`` and ``created``.
``promotion_code.created`` and ``promotion_code.updated`` are sent.

``discounts[0][promotion_code]`` (or the legacy ``promotion_code``) on a subscription's create or update applies
the code's coupon (see :mod:`.subscriptions`) when the code can be redeemed now (active, before ``expires_at``,
under ``max_redemptions``, by its ``customer`` if it has one), counts a redemption of the code and names it in
the discount's ``promotion_code``.  ``restrictions`` are kept; ``first_time_transaction`` and
``minimum_amount`` are not enforced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from .api import (
    add_route,
    as_bool,
    as_int,
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

CREATE_PARAMS: tuple[str, ...] = (
    "active",
    "code",
    "coupon",
    "customer",
    "expires_at",
    "max_redemptions",
    "metadata",
    "promotion",
)
CREATE_PARAMS += ("restrictions",)
LIST_PARAMS = ("active", "code", "coupon", "customer", "created", "limit", "starting_after", "ending_before")
RESTRICTIONS = ("currency_options", "first_time_transaction", "minimum_amount", "minimum_amount_currency")
_CODE = re.compile("[A-Za-z0-9-]{1,500}")


def _localstripe() -> Any:  # pragma: no cover - child process
    from localstripe import resources

    return resources


class PromotionCode:
    """A promotion code, in localstripe's store as ``promotion_code:<id>``.  Read ``id``, ``code``, ``coupon``
    (the coupon's id), ``active``, ``customer``, ``expires_at``, ``max_redemptions``, ``times_redeemed``,
    ``restrictions`` and ``metadata``."""

    object = "promotion_code"
    id: str
    code: str
    coupon: str
    active: bool
    metadata: dict[str, str]
    restrictions: dict[str, Any]

    def __init__(self, **values: Any) -> None:
        self.livemode, self.customer_account, self.times_redeemed = False, None, 0
        self.__dict__.update(values)

    @property
    def promotion(self) -> dict[str, Any]:
        """What the code gives, in the current API's shape."""
        return {"type": "coupon", "coupon": self.coupon}

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        data = {name: value for name, value in vars(self).items() if not name.startswith("_")}
        data |= {"object": self.object, "promotion": self.promotion, "metadata": dict(self.metadata)}
        data["restrictions"] = dict(self.restrictions)
        coupon = _localstripe().store.get("coupon:" + self.coupon)
        data["coupon"] = coupon._export() if coupon is not None else self.coupon
        expand_own(data, expand, {"customer": lambda customer: _localstripe().Customer._api_retrieve(customer)})
        return data


def find_promotion_code(resources: Any, promotion_id: Any, param: str = "promotion_code", status: int = 404) -> Any:
    """The promotion code *promotion_id*, or Stripe's ``No such promotion code`` error."""
    found = resources.store.get("promotion_code:" + promotion_id) if isinstance(promotion_id, str) else None
    if found is None:
        raise no_such(resources, "promotion code", promotion_id, param, status)
    return found


def find_promotion_code_by_code(resources: Any, code: Any) -> Any:
    """The active promotion code whose ``code`` is *code* (what a customer typed, in any case), or ``None``.
    Whether it can be redeemed now is not checked."""
    wanted = code.strip().lower() if isinstance(code, str) else None
    matches = (promotion for promotion in stored(resources, "promotion_code") if promotion.active)
    return next((promotion for promotion in matches if promotion.code.lower() == wanted), None)


def _refuse_taken(resources: Any, code: str) -> None:
    if find_promotion_code_by_code(resources, code) is not None:
        raise stripe_error(resources, f"An active promotion code with `code: {code}` already exists.", "code")


def _coupon(resources: Any, data: dict[str, Any]) -> Any:
    """The localstripe Coupon a new promotion code gives (``promotion[coupon]`` or ``coupon``)."""
    coupon, promotion, param = data.get("coupon"), data.get("promotion"), "coupon"
    if coupon is not None and promotion is not None:
        raise stripe_error(resources, "You may only specify one of these parameters: coupon, promotion.", "promotion")
    if promotion is not None:
        if not isinstance(promotion, dict):
            raise stripe_error(resources, "Invalid object", "promotion")
        check_params(resources, promotion, ("coupon", "type"), "promotion")
        if promotion.get("type") != "coupon":
            raise stripe_error(resources, "Invalid promotion[type]: must be coupon", "promotion[type]")
        coupon, param = promotion.get("coupon"), "promotion[coupon]"
    if coupon in (None, ""):
        name = "promotion" if promotion is None else param
        raise stripe_error(resources, f"Missing required param: {name}.", name, "parameter_missing")
    found = resources.store.get("coupon:" + coupon) if isinstance(coupon, str) else None
    if found is None:
        raise no_such(resources, "coupon", coupon, param)
    return found


def _restrictions(resources: Any, value: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
    result = dict(old or {"first_time_transaction": False, "minimum_amount": None, "minimum_amount_currency": None})
    if value in (None, ""):
        return result
    if not isinstance(value, dict):
        raise stripe_error(resources, "Invalid object", "restrictions")
    check_params(resources, value, RESTRICTIONS, "restrictions")
    for name, item in value.items():
        param = f"restrictions[{name}]"
        if name == "first_time_transaction":
            result[name] = as_bool(resources, item, param)
        elif name == "minimum_amount":
            result[name] = as_int(resources, item, param)
        elif name == "minimum_amount_currency":
            result[name] = str(item).lower()
        else:
            result[name] = item if isinstance(item, dict) else {}
    if result["minimum_amount"] is not None and not result["minimum_amount_currency"]:
        message = "restrictions[minimum_amount_currency] is required with restrictions[minimum_amount]."
        raise stripe_error(resources, message, "restrictions[minimum_amount_currency]")
    return result


def _create(resources: Any, data: dict[str, Any]) -> PromotionCode:
    check_params(resources, data, CREATE_PARAMS)
    coupon = _coupon(resources, data)
    code = data.get("code")
    while code in (None, ""):
        code = resources.random_id(8).upper()
        code = None if find_promotion_code_by_code(resources, code) else code
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise stripe_error(resources, "Invalid code: use letters, digits and dashes only (at most 500).", "code")
    active = as_bool(resources, data.get("active", True), "active")
    if active:
        _refuse_taken(resources, code)
    expires_at = data.get("expires_at")
    if expires_at not in (None, ""):
        expires_at = as_int(resources, expires_at, "expires_at")
        if expires_at <= time.time():
            message = "Invalid timestamp: must be an integer Unix timestamp in the future."
            raise stripe_error(resources, message, "expires_at")
        if coupon.redeem_by is not None and expires_at > int(coupon.redeem_by):
            raise stripe_error(
                resources, "The promotion code cannot expire after its coupon's redeem_by.", "expires_at"
            )
    limit = data.get("max_redemptions")
    if limit not in (None, ""):
        limit = as_int(resources, limit, "max_redemptions", minimum=1)
        if coupon.max_redemptions is not None and limit > int(coupon.max_redemptions):
            message = "The promotion code's max_redemptions cannot be greater than its coupon's."
            raise stripe_error(resources, message, "max_redemptions")
    customer = data.get("customer") or None
    if customer is not None and (not isinstance(customer, str) or "customer:" + customer not in resources.store):
        raise no_such(resources, "customer", customer, "customer")
    promotion = PromotionCode(
        id="promo_" + resources.random_id(24), created=int(time.time()), code=code, coupon=coupon.id, active=active,
        customer=customer, expires_at=expires_at or None, max_redemptions=limit or None,
        metadata=metadata(resources, data.get("metadata")),
        restrictions=_restrictions(resources, data.get("restrictions")),
    )  # fmt: skip
    resources.store["promotion_code:" + promotion.id] = promotion
    send_event(resources, "promotion_code.created", promotion)
    return promotion


def _update(resources: Any, promotion_id: str, data: dict[str, Any]) -> PromotionCode:
    promotion = find_promotion_code(resources, promotion_id)
    check_params(resources, data, ("active", "metadata", "restrictions"))
    new = {"active": promotion.active, "metadata": metadata(resources, data.get("metadata"), promotion.metadata)}
    new["restrictions"] = _restrictions(resources, data.get("restrictions"), promotion.restrictions)
    if "active" in data:
        new["active"] = as_bool(resources, data["active"], "active")
        if new["active"] and not promotion.active:
            _refuse_taken(resources, promotion.code)
    previous = {name: getattr(promotion, name) for name, value in new.items() if value != getattr(promotion, name)}
    promotion.__dict__.update(new)
    if previous:
        send_event(resources, "promotion_code.updated", promotion, previous)
    return promotion  # type: ignore[no-any-return]


def _list(resources: Any, data: dict[str, Any]) -> Any:
    check_params(resources, data, LIST_PARAMS)
    tests: list[Callable[[Any], bool]] = [created_filter(resources, data.get("created"))]
    if data.get("active") is not None:
        active = as_bool(resources, data["active"], "active")
        tests.append(equals("active", active))
    if data.get("code") is not None:
        tests.append(lambda promotion: promotion.code.lower() == str(data["code"]).lower())
    for name in ("coupon", "customer"):
        if data.get(name) is not None:
            tests.append(equals(name, data[name]))
    found = [promotion for promotion in stored(resources, "promotion_code") if all(test(promotion) for test in tests)]
    return page(resources, found, "/v1/promotion_codes", data, "promotion code")


def redeemable_coupon(resources: Any, promotion: Any, customer: Any, param: str) -> str:
    """The id of the coupon *promotion* gives *customer* now, or Stripe's error saying why it cannot."""
    now, limit = time.time(), promotion.max_redemptions
    if not promotion.active:
        raise stripe_error(resources, f"This promotion code is not active: {promotion.code}", param)
    if promotion.expires_at is not None and int(promotion.expires_at) <= now:
        raise stripe_error(resources, f"This promotion code has expired: {promotion.code}", param)
    if limit is not None and promotion.times_redeemed >= int(limit):
        raise stripe_error(resources, f"This promotion code has been used up: {promotion.code}", param)
    if promotion.customer is not None and promotion.customer != customer:
        raise stripe_error(resources, "This promotion code cannot be redeemed by this customer.", param)
    return str(promotion.coupon)


def _discounts(resources: Any, discounts: Any, legacy: Any, customer: Any) -> tuple[Any, Any]:
    """*discounts* with a promotion code turned into its coupon's discount, and that promotion code."""
    param = "discounts[0][promotion_code]"
    if legacy not in (None, ""):
        if discounts not in (None, ""):
            message = "You may only specify one of these parameters: discounts, promotion_code."
            raise stripe_error(resources, message, "promotion_code")
        discounts, param = [{"promotion_code": legacy}], "promotion_code"
    if not (isinstance(discounts, list) and discounts and isinstance(discounts[0], dict)):
        return discounts, None
    if "promotion_code" not in discounts[0]:
        return discounts, None
    if set(discounts[0]) != {"promotion_code"}:
        raise stripe_error(resources, "Each discount takes one of coupon, discount or promotion_code.", "discounts[0]")
    promotion = find_promotion_code(resources, discounts[0]["promotion_code"], param, 400)
    return [{"coupon": redeemable_coupon(resources, promotion, customer, param)}, *discounts[1:]], promotion


def _install_subscriptions(resources: Any) -> None:  # pragma: no cover - child process
    subscription_class = resources.Subscription
    subscription_init, subscription_update = subscription_class.__init__, subscription_class._update

    def __init__(self: Any, *args: Any, discounts: Any = None, promotion_code: Any = None, **kwargs: Any) -> None:
        discounts, promotion = _discounts(resources, discounts, promotion_code, kwargs.get("customer"))
        self._offline_promotion_code = promotion.id if promotion else None  # read by the discount, made on the way
        subscription_init(self, *args, discounts=discounts, **kwargs)
        if promotion is not None:
            promotion.times_redeemed += 1

    def _update(self: Any, *args: Any, discounts: Any = None, promotion_code: Any = None, **data: Any) -> None:
        discounts, promotion = _discounts(resources, discounts, promotion_code, self.customer)
        was = getattr(self, "_offline_promotion_code", None)
        if discounts is not None or data.get("coupon") is not None:
            self._offline_promotion_code = promotion.id if promotion else None
        try:
            subscription_update(self, *args, discounts=discounts, **data)
        except Exception:
            self._offline_promotion_code = was
            raise
        if promotion is not None:
            promotion.times_redeemed += 1

    subscription_class.__init__ = __init__
    subscription_class._update = _update


def install(resources: Any) -> None:  # pragma: no cover - child process
    """Serve promotion codes and redeem them on subscriptions (see the module)."""
    add_route("POST", "/v1/promotion_codes", lambda data: _create(resources, data))
    add_route("GET", "/v1/promotion_codes", lambda data: _list(resources, data))
    add_route(
        "GET", "/v1/promotion_codes/{id}", lambda promotion_id, data: find_promotion_code(resources, promotion_id)
    )
    add_route("POST", "/v1/promotion_codes/{id}", lambda promotion_id, data: _update(resources, promotion_id, data))
    _install_subscriptions(resources)

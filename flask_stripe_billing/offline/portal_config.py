"""The offline Stripe's Customer Portal configurations and sessions (in the server process); their routes and
the hosted page are in :mod:`.portal`.

* ``POST /v1/billing_portal/configurations`` (``features``: ``subscription_update`` with ``products``
  [{``product``, ``prices``}], ``default_allowed_updates`` and ``proration_behavior``; ``subscription_cancel``
  with ``mode``; ``payment_method_update``; ``invoice_history``; ``customer_update``), retrieve, update and list
  (``active``, ``is_default``).  A default configuration exists from the start: card changes and cancellation
  at the period's end, no plan changes (those need the products a configuration lists).
* ``POST /v1/billing_portal/sessions`` (``customer``, ``return_url``, ``configuration``): its ``url``
  (``http://<this server>/portal/<id>``) is the portal, which shows the customer's subscriptions (price,
  quantity, status, period end, cancellation) and default card, and lets the customer change the card
  (through the offline Stripe.js), switch to another configured price, change the quantity, cancel at the
  period's end and renew.  Each change goes through localstripe's objects, so the events Stripe sends go out:
  ``customer.subscription.updated``, ``customer.updated`` and ``payment_method.attached``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from . import api, prices
from .common import find_price, refuse, store_key, validate_url

UPDATES = ("price", "promotion_code", "quantity")
PRORATIONS = ("always_invoice", "create_prorations", "none")
#: Each feature's parameters, and its shape when nothing is said about it.
FEATURES: dict[str, dict[str, Any]] = {
    "customer_update": {"enabled": False, "allowed_updates": []},
    "invoice_history": {"enabled": True},
    "payment_method_update": {"enabled": True, "payment_method_configuration": None},
    "subscription_cancel": {"enabled": True, "mode": "at_period_end", "proration_behavior": "none",
                            "cancellation_reason": {"enabled": False, "options": []}},
    "subscription_pause": {"enabled": False},
    "subscription_update": {"enabled": False, "default_allowed_updates": [], "products": [],
                            "proration_behavior": "none", "schedule_at_period_end": {"conditions": []},
                            "trial_update_behavior": "end_trial", "billing_cycle_anchor": None},
}  # fmt: skip
NOTICES = {"card": "Your payment method was updated.", "canceled": "Your plan will be canceled.",
           "renewed": "Your plan will renew.", "updated": "Your plan was updated."}  # fmt: skip


class PortalConfiguration:
    """A portal configuration, kept in localstripe's store as ``billing_portal.configuration:<id>``."""

    object = "billing_portal.configuration"

    def __init__(self, resources: Any, *, is_default: bool = False) -> None:
        self.id = "bpc_" + resources.random_id(24)
        self.created = self.updated = int(time.time())
        self.active, self.is_default, self.application, self.livemode, self.name = True, is_default, None, False, None
        self.business_profile = {"headline": None, "privacy_policy_url": None, "terms_of_service_url": None}
        self.default_return_url: str | None = None
        self.metadata: dict[str, str] = {}
        self.features = copy.deepcopy(FEATURES)
        self.login_page = {"enabled": False, "url": None}
        resources.store[store_key(self.object, self.id)] = self

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {"object": self.object} | copy.deepcopy(vars(self))


class PortalSession:
    """A portal session, kept in localstripe's store as ``billing_portal.session:<id>``."""

    object = "billing_portal.session"

    def __init__(self, resources: Any, customer: str, configuration: str, return_url: str, host: str) -> None:
        self.id = "bps_" + resources.random_id(24)
        self.created, self.customer, self.configuration, self.return_url = (
            int(time.time()),
            customer,
            configuration,
            return_url,
        )
        self.flow = self.locale = self.on_behalf_of = self.customer_account = None
        self.livemode, self.url = False, f"http://{host}/portal/{self.id}"
        self._setup_intents: list[str] = []
        resources.store[store_key(self.object, self.id)] = self

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {"object": self.object} | {key: value for key, value in vars(self).items() if not key.startswith("_")}


def _feature(resources: Any, name: str, given: Any, old: dict[str, Any]) -> dict[str, Any]:
    """Feature *name* of a configuration: *old* changed by the parameters *given*, checked."""
    param = f"features[{name}]"
    if not isinstance(given, dict):
        raise refuse(resources, f"Invalid {param}: must be an object.", param)
    api.check_params(resources, given, set(FEATURES[name]) - {"payment_method_configuration"}, param)
    feature = copy.deepcopy(old)
    for key, value in given.items():
        if key == "enabled":
            feature[key] = api.as_bool(resources, value, f"{param}[enabled]")
        elif key in ("mode", "proration_behavior"):
            choices = ("at_period_end", "immediately") if key == "mode" else PRORATIONS
            if value not in choices:
                raise refuse(
                    resources, f"Invalid {param}[{key}]: must be one of {', '.join(choices)}", f"{param}[{key}]"
                )
            feature[key] = value
        elif key in ("default_allowed_updates", "allowed_updates"):
            value = [] if value == "" else value
            if not isinstance(value, list) or (key == "default_allowed_updates" and not set(value) <= set(UPDATES)):
                raise refuse(
                    resources, f"Invalid {param}[{key}]: must be a list of {', '.join(UPDATES)}", f"{param}[{key}]"
                )
            feature[key] = list(value)
        elif key == "products":
            feature[key] = _products(resources, value, f"{param}[products]")
        else:
            feature[key] = value
    if (
        name == "subscription_update"
        and feature["enabled"]
        and not (feature["products"] and feature["default_allowed_updates"])
    ):
        message = "To enable subscription updates, give its products and default_allowed_updates."
        raise refuse(resources, message, f"{param}[products]")
    return feature


def _products(resources: Any, value: Any, param: str) -> list[dict[str, Any]]:
    """The ``products`` of ``subscription_update``: each product with prices of its own."""
    value = [] if value == "" else value
    if not isinstance(value, list):
        raise refuse(resources, f"Invalid {param}: must be a list.", param)
    products = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not entry.get("product") or not isinstance(entry.get("prices"), list):
            raise refuse(resources, f"Each of {param} needs a product and its prices.", f"{param}[{index}]")
        product = str(entry["product"])
        if resources.store.get(store_key("product", product)) is None:
            raise api.no_such(resources, "product", product, f"{param}[{index}][product]")
        for number, price_id in enumerate(entry["prices"]):
            price = find_price(resources, price_id, f"{param}[{index}][prices][{number}]")
            if price.product != product:
                message = f"The price {price.id} does not belong to the product {product}."
                raise refuse(resources, message, f"{param}[{index}][prices][{number}]")
        products.append({"product": product, "prices": [str(price) for price in entry["prices"]]})
    return products


def configure(resources: Any, data: dict[str, Any], configuration: PortalConfiguration | None = None) -> Any:
    """Create (without *configuration*) or update a configuration from the parameters of the API."""
    accepted = {"business_profile", "default_return_url", "features", "login_page", "metadata", "name"}
    api.check_params(resources, data, accepted | ({"active"} if configuration else set()))
    if configuration is None and "features" not in data:
        raise refuse(resources, "Missing required param: features.", "features", code="parameter_missing")
    features = data.get("features") or {}
    if not isinstance(features, dict):
        raise refuse(resources, "Invalid features: must be an object.", "features")
    api.check_params(resources, features, FEATURES, "features")
    old = configuration.features if configuration else FEATURES
    checked = {name: _feature(resources, name, given, old[name]) for name, given in features.items()}
    profile = data.get("business_profile") or {}
    api.check_params(resources, profile, ("headline", "privacy_policy_url", "terms_of_service_url"), "business_profile")
    return_url = data.get("default_return_url", configuration.default_return_url if configuration else None) or None
    validate_url(resources, return_url, "default_return_url")
    active = api.as_bool(resources, data["active"], "active") if "active" in data else True
    if configuration is not None and configuration.is_default and not active:
        raise refuse(resources, "The default configuration cannot be deactivated.", "active")
    configuration = configuration or PortalConfiguration(resources)
    configuration.features.update(checked)
    configuration.business_profile.update({key: value or None for key, value in profile.items()})
    configuration.default_return_url, configuration.active = return_url, active
    configuration.metadata = api.metadata(resources, data.get("metadata"), configuration.metadata)
    configuration.name = data.get("name", configuration.name) or None
    configuration.updated = int(time.time())
    return configuration


def default_configuration(resources: Any) -> PortalConfiguration:
    """The default configuration (made the first time it is needed)."""
    for value in list(resources.store.values()):
        if isinstance(value, PortalConfiguration) and value.is_default:
            return value
    return PortalConfiguration(resources, is_default=True)


def find_configuration(resources: Any, configuration_id: Any, param: str = "configuration", status: int = 404) -> Any:
    """The configuration *configuration_id*, or Stripe's ``No such`` error."""
    found = resources.store.get(store_key(PortalConfiguration.object, str(configuration_id)))
    if not isinstance(found, PortalConfiguration):
        raise api.no_such(resources, "configuration", configuration_id, param, status)
    return found


def list_configurations(resources: Any, data: dict[str, Any]) -> Any:
    """A page of configurations (newest first), filtered by ``active`` and ``is_default``."""
    api.check_params(resources, data, prices.PAGE_PARAMS | {"active", "is_default"})
    default_configuration(resources)
    found = [value for value in reversed(list(resources.store.values())) if isinstance(value, PortalConfiguration)]
    for name in ("active", "is_default"):
        if name in data:
            wanted = api.as_bool(resources, data[name], name)
            found = [configuration for configuration in found if getattr(configuration, name) == wanted]
    return api.page(resources, found, "/v1/billing_portal/configurations", data, "configuration")


def create_session(resources: Any, data: dict[str, Any], host: str) -> PortalSession:
    """A portal session from the parameters of ``POST /v1/billing_portal/sessions``."""
    api.check_params(resources, data, ("configuration", "customer", "locale", "on_behalf_of", "return_url"))
    customer = data.get("customer")
    if not customer:
        raise refuse(resources, "Missing required param: customer.", "customer", code="parameter_missing")
    if resources.store.get(store_key("customer", str(customer))) is None:
        raise api.no_such(resources, "customer", customer, "customer")
    if data.get("configuration"):
        configuration = find_configuration(resources, data["configuration"], status=400)
        if not configuration.active:
            raise refuse(resources, f"The configuration {configuration.id} is not active.", "configuration")
    else:
        configuration = default_configuration(resources)
    return_url = data.get("return_url") or configuration.default_return_url
    if not return_url:
        message = "Give a return_url, or set default_return_url on the portal configuration."
        raise refuse(resources, message, "return_url", code="parameter_missing")
    validate_url(resources, return_url, "return_url")
    session = PortalSession(resources, str(customer), configuration.id, return_url, host)
    session.locale = data.get("locale")
    return session

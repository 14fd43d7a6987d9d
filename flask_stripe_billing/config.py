"""Configuration keys, their defaults, and validation at start-up.

Everything is read from ``app.config`` once, in :meth:`StripeBilling.init_app`, and turned into a frozen
:class:`BillingConfig`.  Defaults are written back with ``app.config.setdefault`` so that they are visible to
the host application.  Every error names the key and says how to fix it, so that a misconfigured application
fails when it starts, not at its first payment.
"""

from __future__ import annotations

import difflib
import importlib
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import stripe

from .config_keys import (
    LIVE_BASE_OPT_IN,
    OFFLINE_API_KEY,
    check_api_base,
    check_api_key,
    check_key_pair,
    check_publishable_key,
    check_webhook_secrets,
    is_local_url,
)
from .errors import ConfigurationError
from .money import is_currency

#: Stripe's default API host, used when ``STRIPE_API_BASE`` is not set.
DEFAULT_API_BASE = "https://api.stripe.com"

#: ``YYYY-MM-DD`` optionally followed by a release name, e.g. ``2026-10-28.endive``.
_API_VERSION_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(\.[a-z][a-z0-9_]*)?$")

#: Every key the extension reads, with its default.  ``None`` means "no default".
DEFAULTS: dict[str, Any] = {
    "STRIPE_API_KEY": None,
    "STRIPE_PUBLISHABLE_KEY": None,
    "STRIPE_API_VERSION": stripe.api_version,
    "STRIPE_API_BASE": None,
    LIVE_BASE_OPT_IN: False,
    "STRIPE_JS_URL": "https://js.stripe.com/v3/",
    "STRIPE_WEBHOOK_ENDPOINT_SECRET": None,
    "STRIPE_WEBHOOK_TOLERANCE": 300,
    "STRIPE_URL_PREFIX": "/billing",
    "STRIPE_WEBHOOK_URL": "/webhooks",
    "STRIPE_SUBSCRIBER_MODEL": None,
    "STRIPE_SUBSCRIBER_REQUEST_CALLBACK": None,
    "STRIPE_IDEMPOTENCY_KEY_CALLBACK": None,
    "STRIPE_PRORATION_POLICY": False,
    "STRIPE_SUBSCRIPTION_REQUIRED_EXEMPT_URLS": (),
    "STRIPE_SUBSCRIPTION_REDIRECT": None,
    "STRIPE_WEBHOOK_EVENT_CALLBACK": None,
    "STRIPE_PENDING_WEBHOOKS_THRESHOLD": 20,
    "STRIPE_ADMINS": [],
    "STRIPE_MAX_NETWORK_RETRIES": 2,
    "STRIPE_REQUESTS_PER_SECOND": 20,
    "STRIPE_DEFAULT_CURRENCY": "usd",
    "STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS": 24,
    "STRIPE_CHECKOUT": False,
    "STRIPE_PORTAL": True,
    "STRIPE_PORTAL_CONFIGURATION": None,
}

#: Keys read from ``app.config`` that are not ``STRIPE_*`` keys.
OTHER_KEYS = ("ENV_PREFIX",)

#: ``STRIPE_*`` keys that are accepted as another name for a documented key.
ALIASES = {"STRIPE_USER_MODEL": "STRIPE_SUBSCRIBER_MODEL"}


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings read from the ``MAIL_*`` keys (the names Flask-Mail uses)."""

    server: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    use_ssl: bool = False
    default_sender: str | None = None


@dataclass(frozen=True)
class BillingConfig:
    """The validated configuration of one application.  See :doc:`/configuration`.

    Its ``repr`` leaves out the secret key, the signing secrets and the SMTP password.
    """

    api_key: str = field(repr=False)
    publishable_key: str | None
    api_version: str
    api_base: str
    js_url: str
    webhook_secrets: tuple[str, ...] = field(repr=False)
    webhook_tolerance: int
    url_prefix: str
    webhook_url: str
    subscriber_request_callback: Callable[..., Any] | None
    idempotency_key_callback: Callable[[str, str, bool], str] | None
    proration_policy: bool
    subscription_required_exempt_urls: tuple[str, ...]
    subscription_redirect: str | None
    webhook_event_callback: Callable[..., Any] | None
    pending_webhooks_threshold: int
    admins: tuple[str, ...]
    env_prefix: str | None
    mail: MailSettings
    max_network_retries: int
    requests_per_second: float
    default_currency: str
    idempotency_key_max_age_hours: int
    #: ``STRIPE_CHECKOUT``: the plans and pay pages send the customer to Stripe Checkout instead of the card form.
    checkout: bool = False
    #: ``STRIPE_PORTAL``: the account page offers the Customer Portal ("Manage billing").
    portal: bool = True
    #: ``STRIPE_PORTAL_CONFIGURATION``: the portal configuration (``bpc_...``) sessions use, or a callable
    #: returning one (or ``None``); ``None`` means the account's default configuration.
    portal_configuration: str | Callable[[], str | None] | None = None

    @property
    def livemode(self) -> bool:
        """Whether the secret key is a live-mode key (``sk_live_`` or ``rk_live_``)."""
        return self.api_key.startswith(("sk_live_", "rk_live_"))

    @property
    def offline(self) -> bool:
        """Whether this application talks to an offline Stripe: ``STRIPE_API_BASE`` on this machine, or the
        offline Stripe's key (:data:`flask_stripe_billing.offline.OFFLINE_API_KEY`)."""
        return self.api_key == OFFLINE_API_KEY or is_local_url(self.api_base)


def apply_defaults(config: dict[str, Any]) -> None:
    """Write every default into *config* (visible to the host) and resolve aliases."""
    for alias, key in ALIASES.items():
        if alias in config and config.get(key) is None:
            config[key] = config[alias]
    for key, value in DEFAULTS.items():
        # Copy mutable defaults so that one application cannot change another's.
        config.setdefault(key, list(value) if isinstance(value, list) else value)


def warn_unknown_keys(config: Mapping[str, Any]) -> None:
    """Warn about ``STRIPE_*`` keys the extension does not know, naming the closest known key."""
    known = set(DEFAULTS) | set(ALIASES)
    for key in config:
        if key.startswith("STRIPE_") and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            warnings.warn(
                f"Unknown configuration key {key} is ignored by flask-stripe-billing.{hint}",
                UserWarning,
                stacklevel=4,
            )


def load_config(config: Mapping[str, Any]) -> BillingConfig:
    """Validate *config* (already passed through :func:`apply_defaults`) into a :class:`BillingConfig`.

    :raises ~flask_stripe_billing.errors.ConfigurationError: naming the first key that is missing or malformed;
        a secret is never shown in the message, only masked.
    """
    api_key = check_api_key(config.get("STRIPE_API_KEY"))
    publishable_key = check_publishable_key(config.get("STRIPE_PUBLISHABLE_KEY"))
    check_key_pair(api_key, publishable_key)
    api_base = _url("STRIPE_API_BASE", config.get("STRIPE_API_BASE") or DEFAULT_API_BASE).rstrip("/")
    check_api_base(api_key, api_base, _bool(LIVE_BASE_OPT_IN, config.get(LIVE_BASE_OPT_IN, False)))
    return BillingConfig(
        api_key=api_key,
        publishable_key=publishable_key,
        api_version=_api_version(config.get("STRIPE_API_VERSION")),
        api_base=api_base,
        js_url=_url("STRIPE_JS_URL", config.get("STRIPE_JS_URL")),
        webhook_secrets=check_webhook_secrets(config.get("STRIPE_WEBHOOK_ENDPOINT_SECRET")),
        webhook_tolerance=_int("STRIPE_WEBHOOK_TOLERANCE", config.get("STRIPE_WEBHOOK_TOLERANCE"), 1),
        url_prefix=_path("STRIPE_URL_PREFIX", config.get("STRIPE_URL_PREFIX"), allow_root=True),
        webhook_url=_path("STRIPE_WEBHOOK_URL", config.get("STRIPE_WEBHOOK_URL")),
        subscriber_request_callback=_callback(
            "STRIPE_SUBSCRIBER_REQUEST_CALLBACK", config.get("STRIPE_SUBSCRIBER_REQUEST_CALLBACK")
        ),
        idempotency_key_callback=_callback(
            "STRIPE_IDEMPOTENCY_KEY_CALLBACK", config.get("STRIPE_IDEMPOTENCY_KEY_CALLBACK")
        ),
        proration_policy=_bool("STRIPE_PRORATION_POLICY", config.get("STRIPE_PRORATION_POLICY")),
        subscription_required_exempt_urls=_strings(
            "STRIPE_SUBSCRIPTION_REQUIRED_EXEMPT_URLS", config.get("STRIPE_SUBSCRIPTION_REQUIRED_EXEMPT_URLS")
        ),
        subscription_redirect=_optional_str("STRIPE_SUBSCRIPTION_REDIRECT", config.get("STRIPE_SUBSCRIPTION_REDIRECT")),
        webhook_event_callback=_callback("STRIPE_WEBHOOK_EVENT_CALLBACK", config.get("STRIPE_WEBHOOK_EVENT_CALLBACK")),
        pending_webhooks_threshold=_int(
            "STRIPE_PENDING_WEBHOOKS_THRESHOLD", config.get("STRIPE_PENDING_WEBHOOKS_THRESHOLD"), 0
        ),
        admins=_strings("STRIPE_ADMINS", config.get("STRIPE_ADMINS")),
        env_prefix=_optional_str("ENV_PREFIX", config.get("ENV_PREFIX")),
        mail=_mail(config),
        max_network_retries=_int("STRIPE_MAX_NETWORK_RETRIES", config.get("STRIPE_MAX_NETWORK_RETRIES"), 0),
        requests_per_second=_positive_number("STRIPE_REQUESTS_PER_SECOND", config.get("STRIPE_REQUESTS_PER_SECOND")),
        default_currency=_currency(config.get("STRIPE_DEFAULT_CURRENCY")),
        idempotency_key_max_age_hours=_int(
            "STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS", config.get("STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS"), 1
        ),
        checkout=_bool("STRIPE_CHECKOUT", config.get("STRIPE_CHECKOUT", False)),
        portal=_bool("STRIPE_PORTAL", config.get("STRIPE_PORTAL", True)),
        portal_configuration=_portal_configuration(config.get("STRIPE_PORTAL_CONFIGURATION")),
    )


def import_string_or_callable(key: str, value: Any) -> Any:
    """Resolve ``"package.module:attr"`` or ``"package.module.attr"``; return objects as they are."""
    if not isinstance(value, str):
        return value
    module_name, sep, attr = value.partition(":")
    if not sep:
        module_name, _, attr = value.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(key, f"{value!r} is not an import string; use 'package.module:name'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(key, f"cannot import module {module_name!r} ({exc}).") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(key, f"module {module_name!r} has no attribute {attr!r}.") from None


def _api_version(value: Any) -> str:
    if not isinstance(value, str) or not _API_VERSION_RE.match(value):
        raise ConfigurationError(
            "STRIPE_API_VERSION",
            f"{value!r} is not an API version; use the form YYYY-MM-DD or YYYY-MM-DD.name "
            f"(the installed stripe library pins {stripe.api_version}).",
        )
    return value


def _url(key: str, value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(key, f"{value!r} is not an http(s) URL.")
    return str(value)


def _path(key: str, value: Any, *, allow_root: bool = False) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigurationError(key, f"{value!r} must be a path starting with '/'.")
    path = value.rstrip("/")
    if not path and not allow_root:
        raise ConfigurationError(key, "must not be '/'.")
    return path


def _callback(key: str, value: Any) -> Callable[..., Any] | None:
    if value is None:
        return None
    resolved = import_string_or_callable(key, value)
    if not callable(resolved):
        raise ConfigurationError(key, f"{value!r} is not callable.")
    return resolved  # type: ignore[no-any-return]


def _portal_configuration(value: Any) -> str | Callable[[], str | None] | None:
    """A ``bpc_...`` id as it is; anything else must be a callable or an import string naming one."""
    key = "STRIPE_PORTAL_CONFIGURATION"
    if value is None or (isinstance(value, str) and value.startswith("bpc_")):
        return value
    if isinstance(value, str) and not value.strip():
        raise ConfigurationError(key, "must be a portal configuration id (bpc_...), a callable or None.")
    return _callback(key, value)


def _int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(key, f"{value!r} must be an integer of at least {minimum}.")
    return value


def _positive_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(key, f"{value!r} must be a positive number.")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(key, f"{value!r} must be True or False.")
    return value


def _optional_str(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ConfigurationError(key, f"{value!r} must be a string.")


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(key, f"{value!r} must be a list of strings.")
    return tuple(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not is_currency(value.lower()):
        raise ConfigurationError(
            "STRIPE_DEFAULT_CURRENCY",
            f"{value!r} must be a currency Stripe supports, as its three-letter ISO code such as 'usd'.",
        )
    return value.lower()


def _mail(config: Mapping[str, Any]) -> MailSettings:
    port = config.get("MAIL_PORT", 25)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    return MailSettings(
        server=config.get("MAIL_SERVER") or "localhost",
        port=_int("MAIL_PORT", port, 1),
        username=config.get("MAIL_USERNAME"),
        password=config.get("MAIL_PASSWORD"),
        use_tls=bool(config.get("MAIL_USE_TLS", False)),
        use_ssl=bool(config.get("MAIL_USE_SSL", False)),
        default_sender=config.get("MAIL_DEFAULT_SENDER"),
    )

"""Checks of the Stripe keys, the webhook signing secrets and where the secret key is sent.

A key pasted with its line break, only a key's prefix, two signing secrets in one string, a signing secret that
is really an API key, a test key paired with a live key, a live key sent somewhere other than Stripe: each is
refused at start-up with a :class:`~flask_stripe_billing.errors.ConfigurationError` naming the key.  A value
that is legal but unlikely to be meant draws a :class:`~flask_stripe_billing.errors.ConfigurationWarning`.

No message ever contains a secret: keys are shown masked by :func:`mask_secret` (``'sk_live_...a1b2'``).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError, ConfigurationWarning

#: Stripe's own API host: a live key is sent nowhere else unless ``STRIPE_ALLOW_LIVE_KEY_WITH_CUSTOM_API_BASE``.
#: Any secret key works with the offline Stripe (localstripe); this one is obviously not real.
OFFLINE_API_KEY = "sk_test_offline"
OFFLINE_PUBLISHABLE_KEY = "pk_test_offline"

STRIPE_API_HOST = "api.stripe.com"

#: The configuration key that lets a live secret key go to an ``STRIPE_API_BASE`` that is not Stripe's.
LIVE_BASE_OPT_IN = "STRIPE_ALLOW_LIVE_KEY_WITH_CUSTOM_API_BASE"

#: Host names of this machine: an ``STRIPE_API_BASE`` on one of them is an offline Stripe.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: Known prefixes, longest first, kept visible when a value is masked.
_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_", "sk_", "rk_", "pk_")

#: Every character a Stripe key or signing secret is made of.
_KEY_CHARACTERS = re.compile(r"^[A-Za-z0-9_]+$")

_SECRET_HELP = "set it to your Stripe secret key (sk_test_... or sk_live_...) or a restricted key (rk_...)"  # noqa: S105 - help text, not a secret


def mask_secret(value: Any) -> str:
    """*value* as it may be shown in a message: its prefix and, for a long value, its last four characters.

    ``mask_secret("sk_live_51H...a1b2")`` → ``'sk_live_...a1b2'``; anything that is not a string is shown by
    its type only.
    """
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    text = value.strip()
    prefix = next((p for p in _PREFIXES if text.startswith(p)), "")
    rest = text[len(prefix) :]
    tail = rest[-4:] if len(rest) >= 16 else ""
    return f"'{prefix}...{tail}'"


def key_mode(key: str | None) -> str | None:
    """``"live"`` or ``"test"`` for a key whose prefix says so (``sk_live_``, ``pk_test_``, ...), else ``None``."""
    if key is None:
        return None
    for mode in ("live", "test"):
        if key.startswith((f"sk_{mode}_", f"rk_{mode}_", f"pk_{mode}_")):
            return mode
    return None


def is_local_url(url: str) -> bool:
    """Whether *url* points at this machine (an offline Stripe)."""
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def warn(message: str) -> None:
    """Issue a :class:`ConfigurationWarning` attributed to the first caller outside this package."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("flask_stripe_billing"):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, ConfigurationWarning, stacklevel=level)


def _check_text(key: str, value: str, where: str, blank_hint: str) -> None:
    """Refuse what no Stripe key or secret looks like: blank, spaces or quotes around it, a shortened copy."""
    shown = mask_secret(value)
    if not value.strip():
        raise ConfigurationError(key, f"{where}is blank: {blank_hint}.")
    if value != value.strip():
        raise ConfigurationError(
            key,
            f"{where}has spaces or a line break around it ({shown}): remove them; they are usually left by "
            "copying the value or reading it from a file.",
        )
    if value[0] in "'\"" or value[-1] in "'\"":
        raise ConfigurationError(key, f"{where}is wrapped in quotes ({shown}): the quotes became part of the value.")
    if any(character.isspace() for character in value):
        raise ConfigurationError(key, f"{where}contains spaces or line breaks ({shown}): give one value only.")
    if not _KEY_CHARACTERS.match(value):
        raise ConfigurationError(
            key,
            f"{where}contains characters Stripe never uses ({shown}): copy the whole value, not the shortened "
            "form the Stripe dashboard shows (sk_live_...a1b2).",
        )


def _check_not_only_prefix(key: str, value: str, where: str) -> None:
    if value in _PREFIXES:
        raise ConfigurationError(
            key, f"{where}is only the prefix {value!r}: copy the whole value from the Stripe dashboard."
        )


def check_api_key(value: Any) -> str:
    """Validate ``STRIPE_API_KEY``: a secret (``sk_``) or restricted (``rk_``) key, nothing around it."""
    key = "STRIPE_API_KEY"
    if value is None or value == "":
        raise ConfigurationError(
            key,
            f"is required: {_SECRET_HELP}, e.g. with the environment variable FLASK_STRIPE_API_KEY and "
            "app.config.from_prefixed_env().",
        )
    if not isinstance(value, str):
        raise ConfigurationError(key, f"must be a string (got {mask_secret(value)}): {_SECRET_HELP}.")
    _check_text(key, value, "", _SECRET_HELP)
    if value.startswith("pk_"):
        raise ConfigurationError(
            key,
            "is a publishable key: it must be a secret or restricted key starting with 'sk_' or 'rk_'; the "
            "publishable key goes in STRIPE_PUBLISHABLE_KEY.",
        )
    if value.startswith("whsec_"):
        raise ConfigurationError(
            key,
            "is a webhook signing secret: it must be a secret or restricted key starting with 'sk_' or 'rk_'; "
            "the signing secret goes in STRIPE_WEBHOOK_ENDPOINT_SECRET.",
        )
    if not value.startswith(("sk_", "rk_")):
        raise ConfigurationError(key, "must be a secret or restricted key starting with 'sk_' or 'rk_'.")
    _check_not_only_prefix(key, value, "")
    if key_mode(value) is None:
        warn(
            f"{key} {mask_secret(value)} has neither 'test_' nor 'live_' after its prefix, as Stripe's keys do; "
            "it is taken to be a test-mode key."
        )
    return value


def check_publishable_key(value: Any) -> str | None:
    """Validate ``STRIPE_PUBLISHABLE_KEY``: empty, or a publishable key (``pk_``), never a secret key."""
    key = "STRIPE_PUBLISHABLE_KEY"
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(key, f"must be a string (got {mask_secret(value)}).")
    if value.strip().startswith(("sk_", "rk_")):
        raise ConfigurationError(key, "must be a publishable key starting with 'pk_' (never a secret key).")
    _check_text(key, value, "", "set it to your publishable key (pk_...) or leave it unset")
    if not value.startswith("pk_"):
        raise ConfigurationError(key, "must be a publishable key starting with 'pk_' (never a secret key).")
    _check_not_only_prefix(key, value, "")
    return value


def check_webhook_secrets(value: Any) -> tuple[str, ...]:
    """Validate ``STRIPE_WEBHOOK_ENDPOINT_SECRET``: unset, one signing secret, or a list of them."""
    key = "STRIPE_WEBHOOK_ENDPOINT_SECRET"
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        values: Sequence[Any] = [value]
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        raise ConfigurationError(
            key, f"must be a signing secret (whsec_...) or a list of them, not {mask_secret(value)}."
        )
    for index, secret in enumerate(values):
        where = f"item {index + 1} " if len(values) > 1 or not isinstance(value, str) else ""
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError(key, "must be a signing secret (whsec_...) or a list of them.")
        if "," in secret or len(secret.split()) > 1:
            raise ConfigurationError(
                key,
                f"{where}holds several secrets in one string: give a list, e.g. ['whsec_...', 'whsec_...'] "
                '(from the environment: FLASK_STRIPE_WEBHOOK_ENDPOINT_SECRET=\'["whsec_...", "whsec_..."]\' '
                "with app.config.from_prefixed_env()).",
            )
        if secret.strip().startswith(("sk_", "rk_", "pk_")):
            raise ConfigurationError(
                key,
                f"{where}is a Stripe API key ({mask_secret(secret)}), not a webhook signing secret: copy the "
                "endpoint's signing secret (whsec_...) from its page in the Stripe dashboard, or from stripe listen.",
            )
        _check_text(key, secret, where, "set it to the endpoint's signing secret (whsec_...) or leave it unset")
        _check_not_only_prefix(key, secret, where)
        if not secret.startswith("whsec_"):
            warn(f"{key} {where}{mask_secret(secret)} does not start with 'whsec_' as Stripe's signing secrets do.")
    return tuple(values)


def check_key_pair(api_key: str, publishable_key: str | None) -> None:
    """Refuse a secret key and a publishable key of different modes (one test, one live)."""
    secret_mode, public_mode = key_mode(api_key), key_mode(publishable_key)
    if secret_mode and public_mode and secret_mode != public_mode:
        raise ConfigurationError(
            "STRIPE_PUBLISHABLE_KEY",
            f"is a {public_mode}-mode key but STRIPE_API_KEY is a {secret_mode}-mode key: use the two keys of the "
            "same mode, as the Stripe dashboard shows them together.",
        )


def check_api_base(api_key: str, api_base: str, allow_custom: bool) -> None:
    """Refuse to send a live key anywhere but ``https://api.stripe.com``, unless *allow_custom*; warn about
    the offline Stripe's key sent to Stripe."""
    parts = urlsplit(api_base)
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    is_stripe = parts.scheme == "https" and host == STRIPE_API_HOST and parts.port in (None, 443)
    if key_mode(api_key) == "live" and not is_stripe:
        if not allow_custom:
            raise ConfigurationError(
                "STRIPE_API_BASE",
                f"is {shown}, not Stripe's https://{STRIPE_API_HOST}, and STRIPE_API_KEY is a live key: a live key "
                f"is sent only to Stripe. Set {LIVE_BASE_OPT_IN} = True if this is a proxy of yours that forwards "
                "to Stripe, or use a test key here.",
            )
        if parts.scheme != "https":
            warn(f"STRIPE_API_BASE {shown} is not https: the live key is sent unencrypted.")
    if api_key == OFFLINE_API_KEY and is_stripe:
        warn(
            "STRIPE_API_KEY is the offline Stripe's key, and STRIPE_API_BASE is Stripe's: Stripe refuses it. "
            "Point STRIPE_API_BASE at the offline Stripe, or set a real key."
        )

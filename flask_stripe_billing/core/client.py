"""The Stripe gateway: the only place that talks to Stripe.

One :class:`StripeGateway` per application holds a ``stripe.StripeClient`` (the global ``stripe.api_key`` is
never set), sends the pinned API version on every request, talks to ``STRIPE_API_BASE``, retries network
errors ``STRIPE_MAX_NETWORK_RETRIES`` times, attaches an idempotency key to every mutating request, paces
requests under ``STRIPE_REQUESTS_PER_SECOND``, and turns Stripe's exceptions into the extension's own
(:mod:`flask_stripe_billing.errors`).

Answers are plain ``dict``\\ s decoded from Stripe's JSON, so that callers read them the same way whether they
come from the API, a webhook, or a stored ``stripe_response`` — and whatever the API version's shape.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import stripe

from .. import errors
from ..config import BillingConfig

#: ``(object_type, action, livemode) -> key``, the signature of ``STRIPE_IDEMPOTENCY_KEY_CALLBACK``.
KeyFactory = Callable[[str, str, bool], str]

#: HTTP methods that change something at Stripe and so carry an idempotency key.
MUTATING_METHODS = frozenset({"post", "delete"})


class RateLimiter:
    """Paces calls to at most *rate* per second across threads (a leaky bucket without bursts).

    Stripe's own limits are 25 requests per second in test mode and 100 in live mode; batch commands share
    one limiter per application so that their workers together stay under ``STRIPE_REQUESTS_PER_SECOND``.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def acquire(self) -> float:
        """Wait for the next free slot; return how long we waited, in seconds."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def slow_down(self, seconds: float) -> None:
        """Push every later slot back by *seconds*, e.g. after Stripe answered 429."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock()) + seconds


class StripeGateway:
    """Every request the extension makes to Stripe goes through :meth:`request`."""

    def __init__(
        self,
        config: BillingConfig,
        *,
        key_factory: KeyFactory,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self.config = config
        self.key_factory = key_factory
        self.rate_limiter = RateLimiter(config.requests_per_second)
        self.client = stripe.StripeClient(
            config.api_key,
            stripe_version=config.api_version,
            base_addresses={"api": config.api_base},
            max_network_retries=config.max_network_retries,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        # Never show the key: a gateway may end up in a log line or a debugger page.
        return f"<StripeGateway {self.config.api_base} version={self.config.api_version}>"

    @property
    def livemode(self) -> bool:
        """Whether requests go to live mode (decided by the secret key)."""
        return self.config.livemode

    def new_idempotency_key(self, object_type: str, action: str) -> str:
        """A fresh idempotency key from ``STRIPE_IDEMPOTENCY_KEY_CALLBACK`` (by default, a stored record).

        Store the key on your own row and commit *before* sending the request, then pass it to
        :meth:`request`: after a crash or a lost answer, the retry reuses it and Stripe replays its answer
        instead of doing the work twice.
        """
        key = self.key_factory(object_type, action, self.livemode)
        if not isinstance(key, str) or not key or len(key) > 255:
            raise errors.ConfigurationError(
                "STRIPE_IDEMPOTENCY_KEY_CALLBACK",
                f"returned {key!r}; it must return a non-empty string of at most 255 characters.",
            )
        return key

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        object_type: str | None = None,
        action: str | None = None,
    ) -> dict[str, Any]:
        """Send one request to Stripe and return the decoded JSON answer.

        :param method: ``"get"``, ``"post"`` or ``"delete"``.
        :param path: the API path, e.g. ``"/v1/customers"``.
        :param params: request parameters (nested dicts and lists are encoded the way Stripe expects).
        :param idempotency_key: for a mutating request, the key stored with the row it concerns.  Without one,
            a new key is made from *object_type* and *action* (which are then required).
        :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses the request or cannot be
            reached (a subclass naming the kind of failure);
            :class:`~flask_stripe_billing.errors.OutcomeUnknownError` when the outcome is unknown.
        """
        method = method.lower()
        options: dict[str, Any] = {}
        if method in MUTATING_METHODS:
            if idempotency_key is None:
                if object_type is None or action is None:
                    raise ValueError(f"{method.upper()} {path} needs an idempotency_key, or object_type and action.")
                idempotency_key = self.new_idempotency_key(object_type, action)
            options["idempotency_key"] = idempotency_key
        self.rate_limiter.acquire()
        try:
            response = self._send(method, path, dict(params or {}), options)
        except stripe.StripeError as exc:
            if isinstance(exc, stripe.RateLimitError):
                self.rate_limiter.slow_down(1.0)
            raise translate_error(exc, self.config.api_base) from exc
        data = response.data
        if not isinstance(data, dict):
            raise errors.OutcomeUnknownError(
                f"Stripe answered {method.upper()} {path} with a body that is not an object."
            )
        return data

    def _send(self, method: str, path: str, params: dict[str, Any], options: Any) -> Any:
        # ``StripeClient.raw_request`` takes parameters and options from one dict and silently drops parameters
        # named ``usage`` or ``base`` (a SetupIntent has a real ``usage``); its requestor keeps them apart.
        requestor = self.client._requestor
        body, status, headers = requestor.request_raw(
            method,
            path,
            params=params,
            options=options,
            base_address="api",
            api_mode="V1",
            usage=["flask_stripe_billing"],
        )
        return requestor._interpret_response(body, status, headers, "V1")

    def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Yield every object of a Stripe list, one page in memory at a time."""
        query = {**(params or {}), "limit": page_size}
        while True:
            page = self.request("get", path, query)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            query["starting_after"] = data[-1]["id"]


def translate_error(exc: stripe.StripeError, api_base: str) -> errors.StripeRequestError:
    """Turn one of Stripe's exceptions into the extension's own, keeping codes and the request id."""
    error = exc.error
    details: dict[str, Any] = {
        "code": exc.code or getattr(error, "code", None),
        "decline_code": getattr(error, "decline_code", None),
        "param": getattr(error, "param", None),
        "request_id": exc.request_id,
        "http_status": exc.http_status,
        "raw": error.to_dict() if error is not None else None,
    }
    message = exc.user_message or str(getattr(exc, "_message", None) or exc) or type(exc).__name__
    if isinstance(exc, stripe.CardError):
        return errors.CardError(message, user_message=exc.user_message or getattr(error, "message", None), **details)
    if isinstance(exc, stripe.IdempotencyError):
        return errors.IdempotencyError(message, **details)
    if details["code"] == "idempotency_key_in_use":
        # 409: a request with this key is still being carried out; its outcome is not known yet.
        return errors.OutcomeUnknownError(message, **details)
    if isinstance(exc, stripe.InvalidRequestError):
        return errors.InvalidRequestError(message, **details)
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        return errors.AuthenticationError(
            f"{message} Check STRIPE_API_KEY.", user_message=errors.StripeRequestError.default_user_message, **details
        )
    if isinstance(exc, stripe.RateLimitError):
        return errors.RateLimitError(message, **details)
    if isinstance(exc, stripe.APIConnectionError):
        return errors.StripeConnectionError(
            f"Could not reach Stripe at {api_base} (STRIPE_API_BASE): {message}", **details
        )
    if exc.http_status is None or exc.http_status >= 500:
        return errors.OutcomeUnknownError(message, **details)
    return errors.StripeRequestError(message, **details)


def random_idempotency_key() -> str:
    """A random key (a UUID4), for callers that keep no record of their own."""
    return str(uuid.uuid4())

"""What the validating client and the stub remember about the requests they saw."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .spec import CheckedRequest, SpecViolation, StripeSpec

# Headers tests ask about; the Authorization header is left out on purpose (it holds the key).
HEADERS_OF_INTEREST = ("Idempotency-Key", "Stripe-Version", "Stripe-Account", "Stripe-Context", "Content-Type")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the API would see it."""

    method: str
    path: str
    templated_path: str | None
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)
    violation: SpecViolation | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("Stripe-Version")


def pick_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The :data:`HEADERS_OF_INTEREST` present in ``headers``, matched case-insensitively."""
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    return {name: lowered[name.lower()] for name in HEADERS_OF_INTEREST if name.lower() in lowered}


def inspect_request(
    spec: StripeSpec,
    method: str,
    path: str,
    query: str,
    body: bytes | str | None,
    headers: Mapping[str, str] | None,
) -> tuple[RecordedRequest, CheckedRequest | None]:
    """Validate a request and describe it; a violation is returned in the record, not raised."""
    picked = pick_headers(headers)
    try:
        checked = spec.check_request(method, path, query, body, content_type=picked.get("Content-Type"))
    except SpecViolation as violation:
        return RecordedRequest(method.upper(), path, None, {}, picked, violation=violation), None
    record = RecordedRequest(checked.method, path, checked.templated_path, checked.params, picked, checked.path_params)
    return record, checked


class RequestRecorder:
    """A bounded history of requests, plus every violation seen (only dropped on request)."""

    def __init__(self, max_records: int = 1000) -> None:
        self.requests: deque[RecordedRequest] = deque(maxlen=max_records)
        # Kept apart and unbounded: a session-end check fails if a violation was swallowed somewhere.
        self.violations: list[SpecViolation] = []
        self._records_lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        with self._records_lock:
            self.requests.append(request)
            if request.violation is not None:
                self.violations.append(request.violation)

    def clear(self) -> None:
        """Forget the recorded requests.

        :attr:`violations` survive on purpose (per-test fixtures call this);
        whoever expects a violation drains it with ``violations.clear()``.
        """
        with self._records_lock:
            self.requests.clear()

    def last(self, method: str | None = None, templated_path: str | None = None) -> RecordedRequest:
        """The most recent request, optionally of one operation; ``LookupError`` if none."""
        for request in reversed(self.requests):
            if (method is None or request.method == method.upper()) and (
                templated_path is None or request.templated_path == templated_path
            ):
                return request
        raise LookupError(f"no recorded request for {method or '*'} {templated_path or '*'}")

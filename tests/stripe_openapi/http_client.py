"""A ``stripe.HTTPClient`` that checks every request against the spec before sending it.

    http_client = ValidatingHTTPClient()
    client = stripe.StripeClient("sk_test_x", http_client=http_client,
                                 base_addresses={"api": stub.url}, max_network_retries=2)

The library's retry loop (``HTTPClient.request_with_retries``) stays in the
base class and calls :meth:`ValidatingHTTPClient.request` once per attempt,
so retries are validated and recorded one by one (with the same
``Idempotency-Key``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe

from .records import RecordedRequest, RequestRecorder, inspect_request
from .spec import StripeSpec, load_spec


class ValidatingHTTPClient(stripe.HTTPClient, RequestRecorder):
    """Validate, record, then delegate to ``inner`` (the library's default client by default).

    A request that violates the spec is never sent: :class:`~.spec.SpecViolation`
    (an ``AssertionError``, which the library does not catch or retry) is
    raised and also kept in :attr:`violations`, so that code swallowing it
    cannot hide it from a session-end check.
    """

    name = "validating"

    def __init__(
        self,
        inner: stripe.HTTPClient | None = None,
        *,
        spec: StripeSpec | None = None,
        max_records: int = 1000,
    ) -> None:
        stripe.HTTPClient.__init__(self)
        RequestRecorder.__init__(self, max_records)
        self.inner = inner if inner is not None else stripe.new_default_http_client()
        self.spec = spec if spec is not None else load_spec()

    def check(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any) -> RecordedRequest:
        """Validate and record one request; raise its violation, if any."""
        parts = urlsplit(url)
        body = post_data if isinstance(post_data, (str, bytes)) else None
        record, _ = inspect_request(self.spec, method, parts.path, parts.query, body, headers)
        self.record(record)
        if record.violation is not None:
            raise record.violation
        return record

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        self.check(method, url, headers, post_data)
        return self.inner.request(method, url, headers, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        self.check(method, url, headers, post_data)
        return self.inner.request_stream(method, url, headers, post_data)

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        self.check(method, url, headers, post_data)
        return await self.inner.request_async(method, url, headers, post_data)

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[AsyncIterable[bytes], int, Mapping[str, str]]:
        self.check(method, url, headers, post_data)
        return await self.inner.request_stream_async(method, url, headers, post_data)

    def sleep_async(self, secs: float) -> Any:
        return self.inner.sleep_async(secs)

    # The base class leaves these two unannotated.
    def close(self) -> None:
        self.inner.close()  # type: ignore[no-untyped-call]

    async def close_async(self) -> None:
        await self.inner.close_async()  # type: ignore[no-untyped-call]

"""A fault-injecting Stripe proxy, in front of the offline Stripe (localstripe), for reliability tests.

    with FaultProxy(offline_stripe.url, seed=7, fail_before=0.1, drop_after=0.1, rate_limited=0.1) as proxy:
        app.config["STRIPE_API_BASE"] = proxy.url

localstripe ignores idempotency keys, so the proxy keeps Stripe's semantics in front of it:

* a ``POST`` with an ``Idempotency-Key`` seen before gets the saved answer again (``Idempotent-Replayed: true``)
  without reaching localstripe; the same key with another body is a 400 ``idempotency_error``; two requests with
  one key are handled one after the other;
* only answers of requests that were carried out are saved (not 5xx, 429s, or requests refused by validation).

And it injects faults, chosen by a seeded random generator at the given rates:

* ``fail_before`` — a 500 ``api_error`` *before* forwarding: nothing happened;
* ``drop_after`` — the request is forwarded and carried out (its answer saved for the key), then the
  connection is closed without an answer: the client cannot know;
* ``rate_limited`` — a 429 ``rate_limit_error`` (``Stripe-Should-Retry: false``), nothing forwarded;
* ``latency`` — seconds added to every request.

:meth:`FaultProxy.queue_fault` injects one fault into the next request to a given path, whatever the rates.

With ``refund_limit=True`` it also keeps Stripe's rule that refunds never exceed the charge, which localstripe
does not: a ``POST /v1/refunds`` is checked against the charge's ``amount_refunded`` upstream, one refund at a
time, and refused as Stripe refuses it — a 400 ``invalid_request_error`` with ``code: charge_already_refunded``
("Charge ch_... has already been refunded.") when nothing remains, or with ``param: amount`` and "Refund amount
($X) is greater than unrefunded amount on charge ($Y)" when less remains than asked.  Like any other answer
of a request that was carried out, a refusal is saved for its idempotency key.

Every request is first checked against Stripe's OpenAPI description with the same code as the stub and the
validating client (:func:`tests.stripe_openapi.records.inspect_request`); a violation is answered with a 400 and
kept in :attr:`FaultProxy.violations`.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from .stripe_openapi.records import RequestRecorder, inspect_request
from .stripe_openapi.spec import StripeSpec, load_spec

#: Request headers passed on to localstripe.
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Stripe-Version", "Idempotency-Key", "User-Agent")

#: Currencies without minor units, and the symbols Stripe's refund messages use.
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"})
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


class FaultProxy(RequestRecorder):
    """A threaded HTTP proxy on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        fail_before: float = 0.0,
        drop_after: float = 0.0,
        rate_limited: float = 0.0,
        latency: float = 0.0,
        refund_limit: bool = False,
        spec: StripeSpec | None = None,
    ) -> None:
        super().__init__(max_records=100)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.spec = spec if spec is not None else load_spec()
        self.fail_before = fail_before
        self.drop_after = drop_after
        self.rate_limited = rate_limited
        self.latency = latency
        self.refund_limit = refund_limit
        #: How many faults of each kind were injected, and how many answers were replayed.
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._saved: dict[str, tuple[tuple[str, str, bytes], int, bytes]] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._queued: list[tuple[str, str, str]] = []
        self._refund_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("FaultProxyHandler", (_ProxyHandler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_faults(self, *, fail_before: float = 0.0, drop_after: float = 0.0, rate_limited: float = 0.0) -> None:
        """Change the fault rates (e.g. to zero, to let a last run settle everything)."""
        with self._lock:
            self.fail_before, self.drop_after, self.rate_limited = fail_before, drop_after, rate_limited

    # -- decisions -----------------------------------------------------------------------------

    def queue_fault(self, kind: str, *, method: str = "POST", path: str = "/v1/refunds") -> None:
        """Inject *kind* (``fail_before``, ``drop_after`` or ``rate_limited``) into the next *method* *path*."""
        if kind not in ("fail_before", "drop_after", "rate_limited"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._queued.append((method.upper(), path, kind))

    def draw(self, method: str = "", path: str = "") -> str | None:
        """The fault for the next request, if any: a queued one for *method* *path*, else one draw per request
        from the seeded generator."""
        with self._lock:
            for queued in self._queued:
                if queued[:2] == (method.upper(), path):
                    self._queued.remove(queued)
                    self.counts[queued[2]] += 1
                    return queued[2]
            roll = self._random.random()
            for kind, rate in (
                ("fail_before", self.fail_before),
                ("drop_after", self.drop_after),
                ("rate_limited", self.rate_limited),
            ):
                if roll < rate:
                    self.counts[kind] += 1
                    return kind
                roll -= rate
        return None

    def key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def saved(self, key: str) -> tuple[tuple[str, str, bytes], int, bytes] | None:
        with self._lock:
            return self._saved.get(key)

    def save(self, key: str, fingerprint: tuple[str, str, bytes], status: int, body: bytes) -> None:
        with self._lock:
            self._saved[key] = (fingerprint, status, body)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.refund_limit and method == "POST" and urlsplit(path).path == "/v1/refunds":
            with self._refund_lock:  # one refund at a time: the check and the refund are one step, as at Stripe
                refusal, body = self.check_refund(headers, body)
                if refusal is not None:
                    with self._lock:
                        self.counts["refund_refused"] += 1
                    return 400, refusal
                return self.upstream(method, path, headers, body)
        return self.upstream(method, path, headers, body)

    def upstream(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def check_refund(self, headers: dict[str, str], body: bytes) -> tuple[bytes | None, bytes]:
        """Stripe's refusal of the refund in *body* if it asks for more than remains of its charge, and the body
        to forward: without an ``amount``, Stripe refunds what remains (localstripe would refund the whole
        charge), so that amount is added."""
        params = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        read = {name: headers[name] for name in ("Authorization", "Stripe-Version") if name in headers}
        charge_id = params.get("charge")
        if charge_id is None and params.get("payment_intent"):
            intent = self._get(f"/v1/payment_intents/{params['payment_intent']}", read)
            latest = intent.get("latest_charge") if intent else None
            charge_id = latest.get("id") if isinstance(latest, dict) else latest
        charge = self._get(f"/v1/charges/{charge_id}", read) if isinstance(charge_id, str) else None
        if charge is None:
            return None, body  # let the upstream answer
        remaining = int(charge["amount"]) - int(charge.get("amount_refunded") or 0)
        if remaining <= 0:
            message = f"Charge {charge_id} has already been refunded."
            return _error(400, "invalid_request_error", message, code="charge_already_refunded"), body
        if "amount" not in params:
            return None, body + (b"&" if body else b"") + f"amount={remaining}".encode()
        asked = int(params["amount"])
        if asked > remaining:
            currency = str(charge.get("currency") or "usd")
            message = (
                f"Refund amount ({_money(asked, currency)}) is greater than unrefunded amount on charge "
                f"({_money(remaining, currency)})"
            )
            return _error(400, "invalid_request_error", message, param="amount"), body
        return None, body

    def _get(self, path: str, headers: dict[str, str]) -> dict[str, Any] | None:
        status, body = self.upstream("GET", path, headers, b"")
        return json.loads(body) if status == 200 else None


def _money(amount: int, currency: str) -> str:
    digits = 0 if currency.lower() in ZERO_DECIMAL else 2
    symbol = SYMBOLS.get(currency.lower(), f"{currency.upper()} ")
    return f"{symbol}{amount / 10**digits:,.{digits}f}"


def _error(status: int, kind: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message, **extra}}).encode()


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request is noise in test output."""

    def do_GET(self) -> None:
        self.handle_one()

    def do_POST(self) -> None:
        self.handle_one()

    def do_DELETE(self) -> None:
        self.handle_one()

    def handle_one(self) -> None:
        proxy = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record, _ = inspect_request(proxy.spec, self.command, parts.path, parts.query, body, dict(self.headers))
        proxy.record(record)
        if record.violation is not None:
            violation = record.violation
            self.answer(400, _error(400, "invalid_request_error", str(violation), param=violation.param))
            return
        if proxy.latency:
            time.sleep(proxy.latency)
        fault = proxy.draw(self.command, parts.path)
        if fault == "rate_limited":
            self.answer(429, _error(429, "rate_limit_error", "Too many requests hit the API too quickly."))
            return
        if fault == "fail_before":
            self.answer(500, _error(500, "api_error", "An error occurred with our connection to Stripe."))
            return
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        if key is None:
            status, answer = self.forward(body)
        else:
            fingerprint = (self.command, parts.path, body)
            with proxy.key_lock(key):
                saved = proxy.saved(key)
                if saved is not None:
                    if saved[0] != fingerprint:
                        message = "Keys for idempotent requests can only be used with the same parameters."
                        self.answer(400, _error(400, "idempotency_error", message))
                        return
                    with proxy._lock:
                        proxy.counts["replayed"] += 1
                    if fault == "drop_after":
                        self.drop()
                        return
                    self.answer(saved[1], saved[2], replayed=True)
                    return
                status, answer = self.forward(body)
                if status < 500 and status != 429 and not (status == 400 and b"idempotency_error" in answer):
                    proxy.save(key, fingerprint, status, answer)
        if fault == "drop_after":
            self.drop()
            return
        self.answer(status, answer)

    def forward(self, body: bytes) -> tuple[int, bytes]:
        headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers.get(name)}
        return self.owner.forward(self.command, self.path, headers, body)

    def answer(self, status: int, body: bytes, *, replayed: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", f"req_proxy{random.getrandbits(48):x}")
        if status == 429:
            self.send_header("Stripe-Should-Retry", "false")
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without an answer (the request was carried out)."""
        self.close_connection = True
        self.connection.close()

"""The offline Stripe's hosted pages (Checkout, Customer Portal) driven over plain HTTP, as their script does it.

:func:`confirm_card` confirms a page's SetupIntent the way the offline Stripe.js does (JSON, the publishable
key, then a second confirmation for 3-D Secure); :func:`submit` posts a page's form without following the
redirect; :class:`WebhookSink` is an endpoint registered with the offline Stripe that keeps what it receives.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import stripe

from flask_stripe_billing.offline import OFFLINE_PUBLISHABLE_KEY, OfflineStripe

NEXT_YEAR = datetime.datetime.now(datetime.UTC).year + 1
VISA, THREE_D_SECURE, DECLINED_ON_SAVE, DECLINED_ON_CHARGE = (
    "4242424242424242",
    "4000002760003184",
    "4000000000000002",
    "4000000000000341",
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, form: dict[str, Any] | None = None, *, json_body: Any = None) -> tuple[int, dict[str, str], str]:
    """``(status, headers, body)`` of a GET (or a POST of *form* or *json_body*), redirects not followed."""
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
    elif json_body is not None:
        data = json.dumps(json_body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")  # noqa: S310
    try:
        with _opener.open(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def submit(url: str, form: dict[str, Any]) -> tuple[int, str]:
    """Post *form* to a page: ``(status, Location)`` for a redirect, else ``(status, page)``."""
    status, headers, body = fetch(url, form)
    return status, headers.get("Location", body) if status == 303 else body


def page_setup_intent(intent_url: str) -> dict[str, Any]:
    """The SetupIntent (``id``, ``client_secret``) a page's script asks its server for."""
    status, _, body = fetch(intent_url, {})
    assert status == 200, body
    return json.loads(body)  # type: ignore[no-any-return]


def confirm_card(
    offline: OfflineStripe,
    intent: dict[str, Any],
    number: str = VISA,
    *,
    authenticate: bool = True,
    sepa_iban: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Confirm *intent* with a typed card (or a SEPA account) as the offline Stripe.js does, answering its
    3-D Secure dialog with *authenticate*: ``(status, body)`` of the last answer."""
    if sepa_iban is not None:
        method = {"type": "sepa_debit", "sepa_debit": {"iban": sepa_iban}}
    else:
        card = {"number": number, "exp_month": "12", "exp_year": str(NEXT_YEAR), "cvc": "123"}
        method = {"type": "card", "card": card, "billing_details": {"email": "payer@example.com"}}
    body = {"key": OFFLINE_PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": intent["client_secret"]}
    url = f"{offline.url}/v1/setup_intents/{intent['id']}"
    status, _, answer = fetch(f"{url}/confirm", json_body={**body, "payment_method_data": method})
    result = json.loads(answer)
    if status == 200 and result["status"] == "requires_action":
        status, _, answer = fetch(f"{url}/{'confirm' if authenticate else 'cancel'}", json_body=body)
        result = json.loads(answer)
    return status, result


def pay_on_page(offline: OfflineStripe, page_url: str, number: str = VISA, **form: str) -> tuple[int, str]:
    """Fill a Checkout page as a customer does: confirm *number* on the session's SetupIntent, then post the
    form (with *form*, e.g. ``email``)."""
    intent = page_setup_intent(f"{page_url}/setup_intent")
    status, body = confirm_card(offline, intent, number)
    assert (status, body.get("status")) == (200, "succeeded"), body
    return submit(page_url, {"setup_intent": intent["id"], **form})


def product_and_price(
    client: stripe.StripeClient, name: str, amount: int, *, recurring: bool = True, product: str | None = None
) -> tuple[str, str]:
    """``(product id, price id)`` of a new price (monthly, or one-time) in USD."""
    product = product or client.v1.products.create(params={"name": name}).id
    params: dict[str, Any] = {"currency": "usd", "unit_amount": amount, "product": product, "nickname": name}
    if recurring:
        params["recurring"] = {"interval": "month"}
    return product, client.v1.prices.create(params=params).id  # type: ignore[arg-type]


def customer_with_card(client: stripe.StripeClient, number: str = VISA, email: str = "ada@example.com") -> str:
    """A customer whose default payment method is a card *number*."""
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123"}}
    )
    customer = client.v1.customers.create(params={"email": email})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": method.id}})
    return customer.id


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged."""


class WebhookSink:
    """A webhook endpoint registered with the offline Stripe for the ``with`` block; keeps the (verified) events
    it receives.  localstripe cannot forget an endpoint: on exit it is pointed at an event that never happens."""

    SECRET = "whsec_hosted_pages"

    def __init__(self, offline: OfflineStripe, events: list[str] | None = None) -> None:
        self.offline, self.events, self.name = offline, events, f"sink-{uuid.uuid4().hex[:8]}"
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        self.server.received = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def __enter__(self) -> WebhookSink:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.offline.register_webhook(self.name, self.url, self.SECRET, self.events)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.offline.register_webhook(self.name, self.url, self.SECRET, ["never.sent"])
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[dict[str, Any]]:
        """The events received so far, each checked against its ``Stripe-Signature``."""
        events = []
        for headers, body in list(self.server.received):  # type: ignore[attr-defined]
            signature = dict(part.split("=", 1) for part in headers["Stripe-Signature"].split(","))
            expected = hmac.new(self.SECRET.encode(), f"{signature['t']}.".encode() + body, hashlib.sha256)
            assert hmac.compare_digest(signature["v1"], expected.hexdigest())
            events.append(json.loads(body))
        return events

    def wait_for(
        self,
        event_type: str,
        object_id: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 20,
    ) -> dict[str, Any]:
        """The first *event_type* event about *object_id* (whose object passes *where*), waiting for it:
        localstripe sends a second after the change (and also sends earlier events of the same objects)."""
        return wait_until(lambda: self.find(event_type, object_id, where), timeout, f"{event_type} for {object_id}")

    def find(
        self, event_type: str, object_id: str, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any] | None:
        """The first *event_type* event about *object_id* (whose object passes *where*) received so far."""
        for event in self.received():
            obj = event["data"]["object"]
            if event["type"] == event_type and obj.get("id") == object_id and (where is None or where(obj)):
                return event
        return None


def wait_until(found: Callable[[], Any], timeout: float, what: str) -> Any:
    """What *found* returns once it is truthy; fails after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")

"""Testing an application that uses flask-stripe-billing: a pytest plugin, and functions for its tests.

Enable it in the application's ``conftest.py`` (it is not loaded automatically, so installing the extension
adds no fixtures to test suites that did not ask for them):

.. code-block:: python

    pytest_plugins = ["flask_stripe_billing.testing"]

Fixtures:

* ``offline_stripe_server`` — an offline Stripe (:class:`~flask_stripe_billing.offline.OfflineStripe`,
  localstripe in a child process on 127.0.0.1), started once per test session;
* ``offline_stripe`` — the same server, emptied before the test;
* ``stripe_test_config`` — the ``STRIPE_*`` settings pointing an application at it, with
  :data:`TEST_WEBHOOK_SECRET` as the webhook signing secret;
* ``billing_signals`` — a :class:`SignalRecorder` of every signal the extension sends during the test.

And functions usable in any test: :func:`send_webhook` (a correctly signed event, delivered to the
application and processed), :func:`make_event` and :func:`create_card_token`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, NamedTuple

import pytest
from blinker import NamedSignal
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from . import signals as _signals
from .core.state import get_state
from .offline import OFFLINE_API_KEY, OFFLINE_PUBLISHABLE_KEY, OfflineStripe
from .webhooks.verify import sign_payload

#: The webhook signing secret in ``stripe_test_config``.
TEST_WEBHOOK_SECRET = "whsec_flask_stripe_billing_tests"  # noqa: S105 - a test secret, never a real one

__all__ = [
    "TEST_WEBHOOK_SECRET",
    "RecordedSignal",
    "SignalRecorder",
    "billing_signals",
    "create_card_token",
    "make_event",
    "offline_stripe",
    "offline_stripe_server",
    "send_webhook",
    "stripe_test_config",
]


def make_event(
    event_type: str,
    obj: Mapping[str, Any],
    *,
    created: int | None = None,
    event_id: str | None = None,
    previous_attributes: Mapping[str, Any] | None = None,
    api_version: str | None = None,
) -> dict[str, Any]:
    """A Stripe event object of *event_type* about *obj*, shaped like the events Stripe sends.

    :param obj: the event's ``data.object`` (a customer, a payment method, ...).
    :param created: the event's ``created`` time (seconds since the epoch; default: now).  Handlers compare it
        with what a row last saw, so give older and newer events different times to test ordering.
    :param event_id: the event's id (default: a new ``evt_...``); reuse one to test a redelivery.
    :param previous_attributes: ``data.previous_attributes`` of an ``*.updated`` or ``*.detached`` event.
    """
    data: dict[str, Any] = {"object": dict(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    return {
        "id": event_id or f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else int(created),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def send_webhook(
    app_or_client: Flask | FlaskClient,
    event_type: str,
    obj: Mapping[str, Any],
    *,
    secret: str | None = None,
    created: int | None = None,
    event_id: str | None = None,
    previous_attributes: Mapping[str, Any] | None = None,
) -> TestResponse:
    """Send a correctly signed event to the application's webhook route, let it be processed, and return the
    response.

    The event is built by :func:`make_event` with the application's ``STRIPE_API_VERSION``, signed with
    *secret* (default: the first ``STRIPE_WEBHOOK_ENDPOINT_SECRET``) at the current time, and posted to
    ``stripe_billing.webhook``.  The response is closed before it is returned, which is when a real server
    runs the processing (unless ``STRIPE_WEBHOOK_EVENT_CALLBACK`` hands the event elsewhere).  Processing uses
    a session of its own; the current application context's session is expired afterwards, so objects the
    test holds show the new state when next read.

    .. code-block:: python

        response = send_webhook(client, "customer.deleted", {"id": customer.stripe_customer_id, "object": "customer"})
        assert response.status_code == 200
        assert not customer.is_active
    """
    if isinstance(app_or_client, FlaskClient):
        client, app = app_or_client, app_or_client.application
    else:
        app, client = app_or_client, app_or_client.test_client()
    state = get_state(app)
    if secret is None:
        if not state.config.webhook_secrets:
            raise RuntimeError("STRIPE_WEBHOOK_ENDPOINT_SECRET is not set: pass secret= to send_webhook().")
        secret = state.config.webhook_secrets[0]
    event = make_event(
        event_type,
        obj,
        created=created,
        event_id=event_id,
        previous_attributes=previous_attributes,
        api_version=state.config.api_version,
    )
    body = json.dumps(event).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "Stripe-Signature": f"t={timestamp},v1={sign_payload(body, secret, timestamp)}",
        "Content-Type": "application/json",
    }
    with app.test_request_context():
        url = app.url_for("stripe_billing.webhook")
    response = client.post(url, data=body, headers=headers)
    response.close()  # runs the processing, as a real server does once the answer is sent
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        state.db.session.expire_all()
    return response


def create_card_token(number: str = "4242424242424242", *, exp_year: int = 2034) -> str:
    """A card token (``tok_...``), as Stripe.js would hand the page, made through the current application's
    gateway: pass it to :func:`~flask_stripe_billing.customers.verbs.create_customer`.  Use Stripe's test numbers
    (``4000000000000002`` is declined)."""
    card = {"number": number, "exp_month": "12", "exp_year": str(exp_year), "cvc": "123"}
    token = get_state().gateway.request("post", "/v1/tokens", {"card": card}, object_type="token", action="create")
    return str(token["id"])


class RecordedSignal(NamedTuple):
    """One signal sent while a :class:`SignalRecorder` was recording."""

    #: The signal's name, e.g. ``"customer-created"``.
    name: str
    #: The sender (for the extension's signals, a model class such as ``StripeCustomer``).
    sender: Any
    #: The keyword arguments it was sent with (``instance``, ...).
    kwargs: dict[str, Any]


def all_signals() -> list[NamedSignal]:
    """Every signal defined in :mod:`flask_stripe_billing.signals`."""
    return [value for value in vars(_signals).values() if isinstance(value, NamedSignal)]


class SignalRecorder:
    """Record blinker signals sent inside a ``with`` block, with their sender and keyword arguments.

    :param signals: the signals to record (default: every signal of :mod:`flask_stripe_billing.signals`).

    .. code-block:: python

        from flask_stripe_billing import signals

        with SignalRecorder(signals.customer_created) as recorded:
            create_customer(user, token)
        (call,) = recorded.of(signals.customer_created)
        assert call.kwargs["instance"].is_active

    Signals sent from other threads (a webhook processed by a server thread) are recorded too.
    """

    def __init__(self, *signals: NamedSignal) -> None:
        self.signals = list(signals) or all_signals()
        #: Everything recorded, in the order it was sent.
        self.records: list[RecordedSignal] = []
        self._lock = threading.Lock()
        self._receivers: list[tuple[NamedSignal, Any]] = []

    def __enter__(self) -> SignalRecorder:
        for signal in self.signals:
            receiver = self._receiver_for(signal)
            signal.connect(receiver, weak=False)
            self._receivers.append((signal, receiver))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)
        self._receivers.clear()

    def _receiver_for(self, signal: NamedSignal) -> Any:
        def receive(sender: Any, **kwargs: Any) -> None:
            with self._lock:
                self.records.append(RecordedSignal(signal.name, sender, kwargs))

        return receive

    def of(self, signal: NamedSignal) -> list[RecordedSignal]:
        """What was recorded of *signal*."""
        return [record for record in self.records if record.name == signal.name]

    @property
    def names(self) -> list[str]:
        """The names of the recorded signals, in order."""
        return [record.name for record in self.records]

    def clear(self) -> None:
        """Forget what was recorded so far (and keep recording)."""
        with self._lock:
            self.records.clear()


@pytest.fixture(scope="session")
def offline_stripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStripe]:
    """An offline Stripe, started once for the test session (its output goes to a log file under the
    session's temporary directory)."""
    log_path = tmp_path_factory.mktemp("offline-stripe") / "localstripe.log"
    with OfflineStripe(log_path=str(log_path)) as server:
        yield server


@pytest.fixture
def offline_stripe(offline_stripe_server: OfflineStripe) -> OfflineStripe:
    """The session's offline Stripe, emptied of every customer, card and charge before the test."""
    offline_stripe_server.reset()
    return offline_stripe_server


@pytest.fixture
def stripe_test_config(offline_stripe: OfflineStripe) -> dict[str, Any]:
    """Settings that point an application at the offline Stripe; ``app.config.update(stripe_test_config)``."""
    return {
        "STRIPE_API_KEY": OFFLINE_API_KEY,
        "STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
        "STRIPE_API_BASE": offline_stripe.url,
        "STRIPE_JS_URL": offline_stripe.js_url,
        "STRIPE_WEBHOOK_ENDPOINT_SECRET": TEST_WEBHOOK_SECRET,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_REQUESTS_PER_SECOND": 1000,  # the offline Stripe has no rate limit to respect
    }


@pytest.fixture
def billing_signals() -> Iterator[SignalRecorder]:
    """A :class:`SignalRecorder` of every flask-stripe-billing signal sent during the test."""
    with SignalRecorder() as recorder:
        yield recorder

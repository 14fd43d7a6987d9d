"""Checkout Sessions and what they make, held by the spec stub (for what the offline Stripe cannot do).

A test creates a session through the package (``billing.checkout(...)``), then makes the stub hold it as Stripe
would once the customer finished the page (:func:`complete_in_stub`), with the subscription, PaymentIntent or
SetupIntent Checkout made (:func:`stub_subscription`, :func:`stub_payment_intent`, :func:`stub_setup_intent`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Flask

from flask_stripe_billing.testing import TEST_WEBHOOK_SECRET
from tests.factories.apps import running_app, stub_config
from tests.factories.subscriptions import subscription_object
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub

#: The host the apps below build absolute URLs for (success and cancel URLs, the portal's return URL).
SERVER_NAME = "billing.test"


@contextlib.contextmanager
def checkout_app(
    stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient, **config: Any
) -> Iterator[Flask]:
    """A host app on *stub* that takes webhooks (the suite's signing secret) and builds absolute URLs."""
    settings = {
        **stub_config(stub),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STRIPE_WEBHOOK_ENDPOINT_SECRET": TEST_WEBHOOK_SECRET,
        "SERVER_NAME": SERVER_NAME,
        **config,
    }
    with running_app(settings, http_client=stripe_http) as application:
        yield application


def stub_subscription(stub: StripeStub, customer_id: str, plan_id: str, **fields: Any) -> dict[str, Any]:
    """A subscription of *customer_id* to *plan_id*, in the current shape, held by the stub (as Checkout, the
    Portal or the Dashboard would make it)."""
    params = {"customer": customer_id, "items": [{"plan": plan_id}], "metadata": fields.pop("metadata", {})}
    return subscription_object(stub, params, **fields)


def stub_payment_intent(
    stub: StripeStub, customer_id: str, amount: int, *, status: str = "succeeded", **fields: Any
) -> dict[str, Any]:
    """A PaymentIntent of *customer_id* for *amount* cents, held by the stub."""
    intent = stub.store.create("payment_intent", {})
    intent.update(
        {
            "customer": customer_id,
            "amount": amount,
            "currency": "usd",
            "status": status,
            "latest_charge": None,
            "last_payment_error": None,
            "metadata": {},
            **fields,
        }
    )
    return intent


def stub_setup_intent(stub: StripeStub, customer_id: str, payment_method: str) -> dict[str, Any]:
    """A succeeded SetupIntent that saved *payment_method* for *customer_id*, held by the stub."""
    intent = stub.store.create("setup_intent", {})
    intent.update({"customer": customer_id, "payment_method": payment_method, "status": "succeeded"})
    return intent


def complete_in_stub(
    stub: StripeStub,
    session_id: str,
    *,
    subscription: str | None = None,
    payment_intent: str | None = None,
    setup_intent: str | None = None,
    payment_status: str = "paid",
    status: str = "complete",
) -> dict[str, Any]:
    """Make the stub hold the session as Stripe does once the customer finished the page; return it."""
    session = stub.store.get(session_id)
    assert session is not None, f"the stub holds no session {session_id}"
    session.update(
        {
            "status": status,
            "payment_status": payment_status,
            "subscription": subscription,
            "payment_intent": payment_intent,
            "setup_intent": setup_intent,
        }
    )
    return session


def session_event_object(session: dict[str, Any]) -> dict[str, Any]:
    """The session as a ``checkout.session.*`` event carries it: what it made as ids, not expanded."""
    return {
        key: (value["id"] if isinstance(value, dict) and "id" in value else value) for key, value in session.items()
    }

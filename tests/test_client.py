"""The Stripe gateway: pinned version, idempotency keys, retries, errors, pacing, pagination."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.core.client import RateLimiter
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeIdempotencyKey
from flask_stripe_billing.offline import free_port
from tests import hostapp
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error


def stub_host(stub: StripeStub, stripe_http: ValidatingHTTPClient, **config: Any) -> Flask:
    """A host app talking to *stub*, with *config* added (no application context pushed)."""
    return hostapp.create_app(
        {
            "STRIPE_API_KEY": "sk_test_stub",
            "STRIPE_API_BASE": stub.url,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            **config,
        },
        http_client=stripe_http,
    )


def test_every_request_carries_the_pinned_version(app: Flask, stripe_http: ValidatingHTTPClient) -> None:
    gateway = get_state(app).gateway
    gateway.request("get", "/v1/customers", {"limit": 1})
    assert stripe_http.last().stripe_version == app.config["STRIPE_API_VERSION"]


def test_configured_version_is_sent(stub: StripeStub, stripe_http: ValidatingHTTPClient) -> None:
    app = stub_host(stub, stripe_http, STRIPE_API_VERSION="2023-08-16")
    with app.app_context():
        get_state(app).gateway.request("get", "/v1/customers")
    assert stripe_http.last().stripe_version == "2023-08-16"


def test_mutating_request_gets_a_stored_key_before_it_is_sent(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient
) -> None:
    gateway = get_state(app).gateway
    customer = gateway.request(
        "post", "/v1/customers", {"email": "a@example.com"}, object_type="customer", action="create"
    )
    assert customer["email"] == "a@example.com"
    sent = stripe_http.last("POST")
    record = db.session.scalars(sa.select(StripeIdempotencyKey)).one()
    assert sent.idempotency_key == record.uuid
    assert (record.object_type, record.action, record.livemode) == ("customer", "create", False)


def test_given_key_is_used_as_is(app: Flask, stripe_http: ValidatingHTTPClient) -> None:
    get_state(app).gateway.request("post", "/v1/customers", {}, idempotency_key="charge-42-attempt-1")
    assert stripe_http.last("POST").idempotency_key == "charge-42-attempt-1"


def test_mutating_request_without_key_or_purpose_is_refused(app: Flask) -> None:
    with pytest.raises(ValueError, match="needs an idempotency_key"):
        get_state(app).gateway.request("post", "/v1/customers", {})


def test_key_callback_is_used(stub: StripeStub, stripe_http: ValidatingHTTPClient) -> None:
    calls: list[tuple[str, str, bool]] = []

    def make_key(object_type: str, action: str, livemode: bool) -> str:
        calls.append((object_type, action, livemode))
        return f"{object_type}-{action}-{len(calls)}"

    app = stub_host(stub, stripe_http, STRIPE_IDEMPOTENCY_KEY_CALLBACK=make_key)
    with app.app_context():
        get_state(app).gateway.request("post", "/v1/customers", {}, object_type="customer", action="create")
    assert calls == [("customer", "create", False)]
    assert stripe_http.last("POST").idempotency_key == "customer-create-1"


def test_key_callback_returning_nonsense_is_a_configuration_error(
    stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    app = stub_host(stub, stripe_http, STRIPE_IDEMPOTENCY_KEY_CALLBACK=lambda *args: "")
    with app.app_context(), pytest.raises(errors.ConfigurationError, match="STRIPE_IDEMPOTENCY_KEY_CALLBACK"):
        get_state(app).gateway.request("post", "/v1/customers", {}, object_type="customer", action="create")


def test_5xx_is_retried_with_the_same_key_then_reported_as_unknown(
    stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    answers = iter([stripe_error(500, "boom", kind="api_error"), stripe_error(500, "boom", kind="api_error")])
    stub.on("POST", "/v1/customers", lambda params, stored: next(answers, (200, stub.store.create("customer", params))))
    app = stub_host(stub, stripe_http, STRIPE_MAX_NETWORK_RETRIES=1)
    gateway = get_state(app).gateway
    with app.app_context(), pytest.raises(errors.OutcomeUnknownError) as caught:
        gateway.request("post", "/v1/customers", {}, idempotency_key="k-1")
    assert caught.value.http_status == 500
    posts = [r for r in stripe_http.requests if r.method == "POST"]
    assert [r.idempotency_key for r in posts] == ["k-1", "k-1"]
    with app.app_context():
        assert gateway.request("post", "/v1/customers", {}, idempotency_key="k-1")["object"] == "customer"


def test_max_network_retries_default_is_two(stub: StripeStub, stripe_http: ValidatingHTTPClient) -> None:
    answers = iter([stripe_error(503, "busy", kind="api_error")] * 2)
    stub.on(
        "GET",
        "/v1/customers/{customer}",
        lambda params, stored: next(answers, (200, {"id": "cus_1", "object": "customer"})),
    )
    app = stub_host(stub, stripe_http)
    with app.app_context():
        assert get_state(app).gateway.request("get", "/v1/customers/cus_1")["id"] == "cus_1"
    assert len(stripe_http.requests) == 3


def test_errors_are_translated(app: Flask) -> None:
    gateway = get_state(app).gateway
    with pytest.raises(errors.InvalidRequestError) as missing:
        gateway.request("get", "/v1/customers/cus_missing")
    assert missing.value.http_status == 404
    assert missing.value.user_message == errors.StripeRequestError.default_user_message


def test_card_decline_keeps_codes_and_customer_safe_message(
    stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    stub.on(
        "POST",
        "/v1/payment_intents",
        lambda params, stored: stripe_error(
            402,
            "Your card has insufficient funds.",
            kind="card_error",
            code="card_declined",
            decline_code="insufficient_funds",
        ),
    )
    app = stub_host(stub, stripe_http)
    with app.app_context(), pytest.raises(errors.CardError) as caught:
        get_state(app).gateway.request(
            "post", "/v1/payment_intents", {"amount": 500, "currency": "usd"}, idempotency_key="pi-1"
        )
    error = caught.value
    assert (error.code, error.decline_code, error.http_status) == ("card_declined", "insufficient_funds", 402)
    assert error.user_message == "Your card has insufficient funds."
    assert "insufficient_funds" in str(error)


@pytest.mark.parametrize(
    ("answer", "exception"),
    [
        (stripe_error(401, "Invalid API Key provided", kind="invalid_request_error"), errors.AuthenticationError),
        (
            stripe_error(429, "Too many requests", kind="invalid_request_error", code="rate_limit"),
            errors.RateLimitError,
        ),
        (stripe_error(400, "Keys for idempotent requests", kind="idempotency_error"), errors.IdempotencyError),
        (stripe_error(502, "Bad gateway", kind="api_error"), errors.OutcomeUnknownError),
    ],
)
def test_error_classes(
    stub: StripeStub, stripe_http: ValidatingHTTPClient, answer: Any, exception: type[Exception]
) -> None:
    stub.on("POST", "/v1/customers", lambda params, stored: answer)
    app = stub_host(stub, stripe_http, STRIPE_MAX_NETWORK_RETRIES=0)
    with app.app_context(), pytest.raises(exception) as caught:
        get_state(app).gateway.request("post", "/v1/customers", {}, idempotency_key="k")
    assert type(caught.value) is exception  # that class itself, not a subclass


def test_unreachable_api_base_names_the_key(stripe_http: ValidatingHTTPClient) -> None:
    app = hostapp.create_app(
        {
            "STRIPE_API_KEY": "sk_test_x",
            "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
            "STRIPE_MAX_NETWORK_RETRIES": 0,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        },
        http_client=stripe_http,
    )
    with app.app_context(), pytest.raises(errors.StripeConnectionError, match="STRIPE_API_BASE"):
        get_state(app).gateway.request("get", "/v1/customers")


def test_list_all_pages_through_everything(app: Flask) -> None:
    gateway = get_state(app).gateway
    for number in range(5):
        gateway.request("post", "/v1/customers", {"email": f"{number}@example.com"}, idempotency_key=f"c{number}")
    emails = [customer["email"] for customer in gateway.list_all("/v1/customers", page_size=2)]
    assert sorted(emails) == [f"{number}@example.com" for number in range(5)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_paces_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
    for _ in range(21):
        limiter.acquire()
    assert clock.now == pytest.approx(101.0)
    assert clock.slept[0] == pytest.approx(0.05)


def test_rate_limiter_slows_down_after_429() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.slow_down(2.0)
    assert limiter.acquire() == pytest.approx(2.1)


def test_gateway_shares_one_limiter_per_app(app: Flask) -> None:
    state = get_state(app)
    assert state.gateway.rate_limiter.interval == pytest.approx(1 / app.config["STRIPE_REQUESTS_PER_SECOND"])


def test_parameters_named_like_request_options_reach_stripe(
    stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    app = stub_host(stub, stripe_http)
    with app.app_context():
        get_state(app).gateway.request("post", "/v1/setup_intents", {"usage": "off_session"}, idempotency_key="si-1")
    assert stripe_http.last("POST").params["usage"] == "off_session"

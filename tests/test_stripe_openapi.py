"""Requests checked against Stripe's OpenAPI description, through the real ``stripe`` client and the local stub.

No Flask here: these tests cover the checking machinery the rest of the suite relies on.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from tests.stripe_openapi import (
    NEWER_PARAMETERS,
    SpecViolation,
    StripeSpec,
    StripeStub,
    ValidatingHTTPClient,
    load_spec,
)
from tests.stripe_openapi.formdata import decode_form
from tests.stripe_openapi.objects import StripeObject

API_KEY = "sk_test_openapi"


def untyped(**params: Any) -> Any:
    """Parameters the library's own types would refuse: requests meant to fail."""
    return params


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    return load_spec()


@pytest.fixture(scope="module")
def stub(spec: StripeSpec) -> Iterator[StripeStub]:
    with StripeStub(spec) as server:
        yield server


@pytest.fixture
def http_client(stub: StripeStub, spec: StripeSpec) -> Iterator[ValidatingHTTPClient]:
    stub.reset()
    client = ValidatingHTTPClient(spec=spec)
    yield client
    client.close()
    assert not stub.violations, "the validating client let a bad request through"


@pytest.fixture
def plain_http() -> Iterator[stripe.HTTPClient]:
    """The library's own HTTP client, for requests that must reach the stub unchecked."""
    client = stripe.new_default_http_client()
    yield client
    client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def stripe_client(stub: StripeStub, http_client: ValidatingHTTPClient) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, http_client=http_client, base_addresses={"api": stub.url})


def metadata_of(customer: stripe.Customer) -> dict[str, Any]:
    assert customer.metadata is not None
    return customer.metadata.to_dict()


def stored_of_type(stub: StripeStub, object_type: str) -> list[StripeObject]:
    return [o for o in stub.store.objects.values() if o.get("object") == object_type]


# -- the real client against the stub ---------------------------------------------------------------


def test_customer_lifecycle(stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient) -> None:
    customers = stripe_client.v1.customers
    created = customers.create(
        {"email": "ada@example.com", "metadata": {"user_id": "42"}, "expand": ["default_source"]}
    )
    assert created.id.startswith("cus_")
    assert created.email == "ada@example.com"
    assert metadata_of(created) == {"user_id": "42"}
    assert created.discount is None  # the fixture's sample discount is not carried over

    fetched = customers.retrieve(created.id, {"expand": ["default_source", "invoice_settings.default_payment_method"]})
    assert fetched.id == created.id

    updated = customers.update(created.id, {"name": "Ada", "metadata": {"user_id": "", "plan": "pro"}})
    assert (updated.name, metadata_of(updated)) == ("Ada", {"plan": "pro"})

    assert [c.id for c in customers.list({"limit": 10}).data] == [created.id]
    assert customers.delete(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        customers.retrieve(created.id)
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")

    assert [(r.method, r.templated_path) for r in http_client.requests] == [
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers/{customer}"),
        ("POST", "/v1/customers/{customer}"),
        ("GET", "/v1/customers"),
        ("DELETE", "/v1/customers/{customer}"),
        ("GET", "/v1/customers/{customer}"),
    ]
    first = http_client.requests[0]
    assert first.params == {"email": "ada@example.com", "metadata": {"user_id": "42"}, "expand": ["default_source"]}
    assert first.idempotency_key
    assert first.stripe_version == stripe.api_version
    assert http_client.requests[1].params == {"expand": ["default_source", "invoice_settings.default_payment_method"]}
    assert http_client.requests[1].path_params == {"customer": created.id}
    assert not http_client.violations


def test_misspelt_parameter_is_a_violation(
    stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient, stub: StripeStub
) -> None:
    with pytest.raises(SpecViolation, match=r"did you mean 'email'") as excinfo:
        stripe_client.v1.customers.create(untyped(emial="ada@example.com"))
    assert excinfo.value.param == "emial"
    assert excinfo.value.code == "parameter_unknown"
    assert http_client.violations == [excinfo.value]  # kept for the session-end check
    assert not stub.requests  # never sent
    http_client.clear()
    assert http_client.violations == [excinfo.value]  # clear() forgets requests, not violations
    http_client.violations.clear()


def test_wrong_type_is_a_violation(stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient) -> None:
    with pytest.raises(SpecViolation, match="integer") as excinfo:
        stripe_client.v1.payment_intents.create(untyped(amount="abc", currency="usd"))
    assert excinfo.value.param == "amount"
    http_client.violations.clear()


def test_misspelt_nested_parameter_is_a_violation(
    stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient
) -> None:
    with pytest.raises(SpecViolation) as excinfo:
        stripe_client.v1.subscriptions.create(untyped(customer="cus_1", items=[{"prise": "price_1"}]))
    assert excinfo.value.param == "items[0][prise]"
    http_client.violations.clear()


def test_unknown_path_or_method_is_a_violation(
    spec: StripeSpec, http_client: ValidatingHTTPClient, stub: StripeStub
) -> None:
    with pytest.raises(SpecViolation, match="unknown path"):
        spec.validate_request("GET", "/v1/customers/cus_1/nonsense", "", None)
    with pytest.raises(SpecViolation, match="method not allowed"):
        spec.validate_request("DELETE", "/v1/charges/ch_1", "", None)
    with pytest.raises(SpecViolation, match="unknown path"):
        http_client.request("get", f"{stub.url}/v1/nonsense", {})
    assert len(http_client.violations) == 1
    http_client.violations.clear()


def test_literal_segments_win_over_templates(spec: StripeSpec) -> None:
    assert spec.route("GET", "/v1/invoices/upcoming") == ("/v1/invoices/upcoming", {})
    assert spec.route("GET", "/v1/invoices/in_1") == ("/v1/invoices/{invoice}", {"invoice": "in_1"})
    assert spec.route("POST", "/v1/customers/cus_1/sources") == (
        "/v1/customers/{customer}/sources",
        {"customer": "cus_1"},
    )


def test_nested_list_parameters(stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient) -> None:
    subscription = stripe_client.v1.subscriptions.create(
        {
            "customer": "cus_1",
            "items": [{"price": "price_1", "quantity": 2, "tax_rates": ["txr_1"]}, {"price": "price_2"}],
            "cancel_at_period_end": False,
        }
    )
    assert subscription.customer == "cus_1"
    assert http_client.requests[-1].params == {
        "customer": "cus_1",
        "items": [{"price": "price_1", "quantity": 2, "tax_rates": ["txr_1"]}, {"price": "price_2"}],
        "cancel_at_period_end": False,
    }


def test_empty_string_unsets(
    stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient, stub: StripeStub
) -> None:
    customer = stripe_client.v1.customers.create({"description": "VIP", "metadata": {"a": "1", "b": "2"}})
    cleared = stripe_client.v1.customers.update(customer.id, {"metadata": "", "description": ""})
    assert metadata_of(cleared) == {}
    assert cleared.description is None
    assert http_client.requests[-1].params == {"metadata": "", "description": ""}
    # A field without an empty-string branch cannot be unset.
    with pytest.raises(SpecViolation) as excinfo:
        stripe_client.v1.customers.update(customer.id, untyped(balance=""))
    assert excinfo.value.param == "balance"
    http_client.violations.clear()


def test_list_query_parameters(stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient) -> None:
    ids = [stripe_client.v1.customers.create({"email": f"{n}@example.com"}).id for n in range(3)]
    first = stripe_client.v1.customers.list({"limit": 2, "created": {"gte": 0}})
    assert ([c.id for c in first.data], first.has_more) == (ids[:0:-1], True)
    rest = stripe_client.v1.customers.list({"limit": 2, "starting_after": first.data[-1].id})
    assert ([c.id for c in rest.data], rest.has_more) == ([ids[0]], False)
    assert http_client.requests[-1].params == {"limit": 2, "starting_after": ids[1]}
    assert [c.id for c in stripe_client.v1.customers.list({"limit": 1}).auto_paging_iter()] == ids[::-1]

    with pytest.raises(SpecViolation) as excinfo:
        stripe_client.v1.customers.list(untyped(limt=2))
    assert (excinfo.value.param, excinfo.value.code) == ("limt", "parameter_unknown")
    http_client.violations.clear()


def test_bracketed_decoding(spec: StripeSpec) -> None:
    assert (
        decode_form("expand[]=a&expand[]=b")
        == decode_form("expand[0]=a&expand[1]=b")
        == {"expand": {"0": "a", "1": "b"}}
    )
    retrieve = spec.check_request("GET", "/v1/customers/cus_1", "expand[]=a&expand[]=b", None)
    assert retrieve.params == {"expand": ["a", "b"]}
    card = "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2030&metadata[0]=zero"
    payment_method = spec.check_request("POST", "/v1/payment_methods", "", card.encode())
    assert payment_method.params["card"] == {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}
    assert payment_method.params["metadata"] == {"0": "zero"}  # a hash with a numeric key is still a hash
    with pytest.raises(SpecViolation, match="more than once"):
        spec.validate_request("POST", "/v1/customers", "", "email=a&email=b")


# -- the stub ----------------------------------------------------------------------------------------


def test_stub_requires_an_api_key(stub: StripeStub, plain_http: stripe.HTTPClient) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(f"{stub.url}/v1/customers", timeout=5)  # noqa: S310 (a local http:// URL)
    with excinfo.value as response:
        assert response.code == 401
        assert json.load(response)["error"]["type"] == "invalid_request_error"

    publishable = stripe.StripeClient("pk_test_x", http_client=plain_http, base_addresses={"api": stub.url})
    with pytest.raises(stripe.AuthenticationError):
        publishable.v1.customers.list()


def test_stub_answers_violations_like_stripe(stub: StripeStub, plain_http: stripe.HTTPClient) -> None:
    stub.reset()
    unchecked = stripe.StripeClient(API_KEY, http_client=plain_http, base_addresses={"api": stub.url})
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        unchecked.v1.customers.create(untyped(emial="ada@example.com"))
    assert (excinfo.value.http_status, excinfo.value.param, excinfo.value.code) == (400, "emial", "parameter_unknown")
    assert [v.param for v in stub.violations] == ["emial"]
    stub.violations.clear()


def test_stub_handler_override(stripe_client: stripe.StripeClient, stub: StripeStub) -> None:
    seen: list[dict[str, Any]] = []

    def trialing(params: dict[str, Any], stored: dict[str, StripeObject]) -> tuple[int, StripeObject]:
        seen.append(params)
        subscription = stub.store.create("subscription", params)
        subscription.update(status="trialing", trial_end=subscription["created"] + 14 * 86400)
        return 200, subscription

    def pause(params: dict[str, Any], stored: dict[str, StripeObject]) -> tuple[int, StripeObject]:
        subscription = stored[params["subscription_exposed_id"]]
        subscription["pause_collection"] = params["pause_collection"]
        return 200, subscription

    stub.on("POST", "/v1/subscriptions", trialing)
    stub.on("POST", "/v1/subscriptions/{subscription_exposed_id}", pause)
    created = stripe_client.v1.subscriptions.create({"customer": "cus_1", "items": [{"price": "price_1"}]})
    assert created.status == "trialing"
    assert seen == [{"customer": "cus_1", "items": [{"price": "price_1"}]}]
    paused = stripe_client.v1.subscriptions.update(created.id, {"pause_collection": {"behavior": "void"}})
    assert paused.pause_collection is not None
    assert paused.pause_collection.behavior == "void"
    assert stripe_client.v1.subscriptions.retrieve(created.id).status == "trialing"

    with pytest.raises(ValueError, match="not an operation"):
        stub.on("POST", "/v1/subscription", trialing)


def test_subscription_delete_cancels(stripe_client: stripe.StripeClient) -> None:
    subscription = stripe_client.v1.subscriptions.create({"customer": "cus_1", "items": [{"price": "price_1"}]})
    cancelled = stripe_client.v1.subscriptions.cancel(subscription.id, {"invoice_now": True, "prorate": False})
    assert (cancelled.id, cancelled.status) == (subscription.id, "canceled")


def test_retries_are_validated_and_keep_the_idempotency_key(
    stub: StripeStub, http_client: ValidatingHTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([500, 200])

    def flaky(params: dict[str, Any], stored: dict[str, StripeObject]) -> tuple[int, StripeObject]:
        status = next(answers)
        return (status, stub.store.create("customer", params)) if status == 200 else (status, {"error": {}})

    stub.on("POST", "/v1/customers", flaky)
    monkeypatch.setattr(http_client, "_sleep_time_seconds", lambda num_retries: 0.0)
    client = stripe.StripeClient(
        API_KEY, http_client=http_client, base_addresses={"api": stub.url}, max_network_retries=2
    )
    assert client.v1.customers.create({"email": "ada@example.com"}).email == "ada@example.com"
    keys = [r.idempotency_key for r in http_client.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]


def test_stub_replays_idempotent_requests(stripe_client: stripe.StripeClient, stub: StripeStub) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "signup-42"}
    first = stripe_client.v1.customers.create({"email": "ada@example.com"}, options)
    again = stripe_client.v1.customers.create({"email": "ada@example.com"}, options)
    assert first.id == again.id
    assert len(stored_of_type(stub, "customer")) == 1
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.customers.create({"email": "other@example.com"}, options)


# -- what the spec does not know yet ----------------------------------------------------------------


def test_newer_parameters_allow_list(
    stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    params: Any = {"customer": "cus_1", "items": [{"price": "price_1"}], "discounts": [{"coupon": "SPRING"}]}
    stripe_client.v1.subscriptions.create(params)
    assert http_client.requests[-1].params["discounts"] == [{"coupon": "SPRING"}]  # kept, though unchecked

    newer: Any = {**params, "billing_mode": {"type": "flexible"}}
    with pytest.raises(SpecViolation) as excinfo:
        stripe_client.v1.subscriptions.create(newer)
    assert excinfo.value.param == "billing_mode"
    http_client.violations.clear()

    key = ("POST", "/v1/subscriptions")
    monkeypatch.setitem(NEWER_PARAMETERS, key, NEWER_PARAMETERS[key] | {"billing_mode", "items[*][discounts]"})
    newer["items"] = [{"price": "price_1", "discounts": [{"coupon": "SPRING"}]}]
    stripe_client.v1.subscriptions.create(newer)
    recorded = http_client.requests[-1].params
    assert recorded["billing_mode"] == {"type": "flexible"}
    assert recorded["items"] == [{"price": "price_1", "discounts": [{"coupon": "SPRING"}]}]


def test_newer_operation_invoice_preview(
    stripe_client: stripe.StripeClient, http_client: ValidatingHTTPClient, stub: StripeStub
) -> None:
    preview = stripe_client.v1.invoices.create_preview(
        {"customer": "cus_1", "subscription": "sub_1", "subscription_details": {"proration_date": 1_700_000_000}}
    )
    assert preview.object == "invoice"
    assert http_client.requests[-1].templated_path == "/v1/invoices/create_preview"
    assert not stored_of_type(stub, "invoice")  # previews cannot be fetched again, so are not kept
    with pytest.raises(SpecViolation, match="custmer"):
        stripe_client.v1.invoices.create_preview(untyped(custmer="cus_1"))
    http_client.violations.clear()


def test_response_schema_names(spec: StripeSpec) -> None:
    assert spec.response_schema_name("POST", "/v1/customers") == "customer"
    assert spec.response_schema_name("GET", "/v1/customers/{customer}") == "customer"  # not deleted_customer
    assert spec.response_schema_name("DELETE", "/v1/customers/{customer}") == "deleted_customer"
    assert spec.response_schema_name("GET", "/v1/customers") is None
    assert spec.list_item_schema_name("GET", "/v1/customers") == "customer"
    assert spec.response_schema_name("POST", "/v1/checkout/sessions") == "checkout.session"

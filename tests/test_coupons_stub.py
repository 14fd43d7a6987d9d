"""Coupon names, which the offline Stripe does not know, through the spec-validating stub."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.coupons.lookup import get_live_coupon
from flask_stripe_billing.coupons.verbs import create_coupon, update_coupon
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error


@pytest.fixture
def app(stub_app: Flask) -> Flask:
    """Every test here talks to the stub."""
    return stub_app


def test_create_and_rename(app: Flask, db: SQLAlchemy, stub: StripeStub, stripe_http: ValidatingHTTPClient) -> None:
    coupon = create_coupon(coupon_id="NAMED", name="Launch", amount_off=1000, currency="jpy", duration="once")
    assert stripe_http.last("POST", "/v1/coupons").params["name"] == "Launch"
    assert coupon.name == "Launch"
    update_coupon(coupon, name="Launch week")
    request = stripe_http.last("POST", "/v1/coupons/{coupon}")
    assert request.params == {"name": "Launch week"}
    assert coupon.name == "Launch week"
    assert stub.store.objects["NAMED"]["name"] == "Launch week"


def test_metadata_keys_left_out_are_removed(app: Flask, db: SQLAlchemy, stub: StripeStub, stripe_http: Any) -> None:
    coupon = create_coupon(coupon_id="KEYS", percent_off=5, metadata={"a": "1", "b": "2"})
    update_coupon(coupon, metadata={"a": "1"})
    assert stripe_http.last("POST", "/v1/coupons/{coupon}").params["metadata"] == {"a": "1", "b": ""}
    assert coupon.metadata_ == {"a": "1"}


def test_an_unknown_outcome_is_resolved_by_calling_again(
    app: Flask, db: SQLAlchemy, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    answers = iter([stripe_error(500, "An unknown error occurred.", kind="api_error")])
    stub.on(
        "POST", "/v1/coupons", lambda params, stored: next(answers, None) or (200, stub.store.create("coupon", params))
    )
    with pytest.raises(errors.OutcomeUnknownError):
        create_coupon(coupon_id="MAYBE", percent_off=15)
    first_key = stripe_http.last("POST", "/v1/coupons").idempotency_key
    assert get_live_coupon("MAYBE") is None  # not known to exist at Stripe yet

    coupon = create_coupon(coupon_id="MAYBE", percent_off=15)  # the same row, the same key
    assert stripe_http.last("POST", "/v1/coupons").idempotency_key == first_key
    assert coupon.is_live
    assert get_live_coupon("MAYBE") is coupon

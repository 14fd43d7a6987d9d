"""Plans against the offline Stripe: created as a product and a price under stable keys, once; bad input refused."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeSubscriptionPlan
from tests.stripe_openapi.http_client import ValidatingHTTPClient


def make_plan(db: SQLAlchemy, **fields: Any) -> StripeSubscriptionPlan:
    values: dict[str, Any] = {"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month"}
    plan = StripeSubscriptionPlan(**{**values, **fields})
    db.session.add(plan)
    db.session.commit()
    return plan


def test_creates_product_and_price_with_stable_keys(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient
) -> None:
    plan = make_plan(db, metadata_={"tier": "pro"}, trial_period_days=14, interval_count=3)
    data = plan.create_at_stripe()

    assert data["object"] == "price"
    assert data["id"] == plan.stripe_price_id == plan.stripe_plan_id
    assert data["unit_amount"] == 2000
    assert data["recurring"]["interval"] == "month"
    assert data["recurring"]["interval_count"] == 3
    assert data["lookup_key"] == plan.lookup_key
    assert plan.lookup_key.startswith("fsb_")
    assert data["product"] == plan.stripe_product_id
    assert plan.is_created_at_stripe
    assert plan.trial_period_days == 14  # kept on the row: subscribing sends it
    assert plan.stripe_synced_at is not None
    product = get_state().gateway.request("get", f"/v1/products/{plan.stripe_product_id}")
    assert product["name"] == "Pro"
    assert product["metadata"] == {"tier": "pro"}
    # Both requests carry keys derived from the key stored on the row before they were sent.
    assert plan.idempotency_key
    assert stripe_http.last("POST", "/v1/prices").idempotency_key == f"{plan.idempotency_key}-price"
    assert stripe_http.last("POST", "/v1/products").idempotency_key == f"{plan.idempotency_key}-product"


def test_a_lookup_key_chosen_by_the_host_is_kept(app: Flask, db: SQLAlchemy) -> None:
    plan = make_plan(db, lookup_key="pro-monthly")
    price_id = plan.create_at_stripe()["id"]
    found = get_state().gateway.request("get", "/v1/prices", {"lookup_keys": ["pro-monthly"]})
    assert [price["id"] for price in found["data"]] == [price_id]


def test_second_call_is_refused(app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient) -> None:
    plan = make_plan(db)
    plan.create_at_stripe()
    stripe_http.clear()
    with pytest.raises(errors.PlanError, match="already created"):
        plan.create_at_stripe()
    assert not stripe_http.requests


def _price_at_stripe(lookup_key: str, amount: int, currency: str, interval: str) -> dict[str, Any]:
    gateway = get_state().gateway
    product = gateway.request("post", "/v1/products", {"name": "Pro"}, object_type="product", action="create")
    params = {
        "product": product["id"],
        "unit_amount": amount,
        "currency": currency,
        "recurring": {"interval": interval},
        "lookup_key": lookup_key,
    }
    return gateway.request("post", "/v1/prices", params, object_type="price", action="create")


def test_an_interrupted_creation_is_taken_over(app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient) -> None:
    """The price exists at Stripe under the row's lookup key (an earlier call's answer was lost); a new call
    adopts it instead of creating a second one."""
    plan = make_plan(db, lookup_key="fsb_taken_over")
    price = _price_at_stripe("fsb_taken_over", 2000, "usd", "month")
    stripe_http.clear()
    data = plan.create_at_stripe()
    assert data["id"] == price["id"] == plan.stripe_price_id
    assert plan.is_created_at_stripe
    assert not [request for request in stripe_http.requests if request.method == "POST"]


def test_a_different_price_under_the_same_lookup_key_is_not_taken_over(app: Flask, db: SQLAlchemy) -> None:
    plan = make_plan(db, lookup_key="fsb_clash")
    _price_at_stripe("fsb_clash", 9900, "eur", "year")
    with pytest.raises(errors.PlanError, match="amount, currency, interval"):
        plan.create_at_stripe()
    db.session.refresh(plan)
    assert not plan.is_created_at_stripe
    assert plan.stripe_price_id is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -100}, "amount"),
        ({"interval": "fortnight"}, "interval must be one of"),
        ({"interval_count": 0}, "interval_count"),
        ({"interval": "month", "interval_count": 37}, "between 1 and 36"),
        ({"interval": "week", "interval_count": 157}, "between 1 and 156"),
        ({"interval": "day", "interval_count": 1096}, "between 1 and 1095"),
        ({"interval": "year", "interval_count": 4}, "between 1 and 3"),
        ({"currency": "US"}, "currency"),
        ({"name": " "}, "name"),
        ({"trial_period_days": -1}, "trial_period_days"),
    ],
)
def test_bad_input_is_refused_before_stripe(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient, fields: dict[str, Any], message: str
) -> None:
    # Built without committing: the database's own checks would refuse some of these values first.
    plan = StripeSubscriptionPlan(**{"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month", **fields})
    stripe_http.clear()
    with pytest.raises(errors.PlanError, match=message):
        plan.create_at_stripe()
    assert not stripe_http.requests
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscriptionPlan)) == 0


def test_the_largest_interval_is_accepted(app: Flask, db: SQLAlchemy) -> None:
    plan = make_plan(db, interval="year", interval_count=3)
    assert plan.create_at_stripe()["recurring"]["interval_count"] == 3

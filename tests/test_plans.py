"""Plans against the offline Stripe: created with their product under stable ids, once; bad input refused."""

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


def test_creates_product_and_plan_with_stable_ids(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient
) -> None:
    plan = make_plan(db, metadata_={"tier": "pro"}, trial_period_days=14, interval_count=3)
    data = plan.create_at_stripe()

    assert data["id"] == plan.stripe_plan_id
    assert data["amount"] == 2000
    assert data["interval"] == "month"
    assert data["interval_count"] == 3
    assert data["trial_period_days"] == 14
    assert data["product"] == plan.stripe_product_id
    assert plan.is_created_at_stripe
    assert plan.stripe_response == data
    assert plan.stripe_synced_at is not None
    product = get_state().gateway.request("get", f"/v1/products/{plan.stripe_product_id}")
    assert product["name"] == "Pro"
    assert product["metadata"] == {"tier": "pro"}
    # Both requests carry keys derived from the key stored on the row before they were sent.
    assert plan.idempotency_key
    assert stripe_http.last("POST", "/v1/plans").idempotency_key == f"{plan.idempotency_key}-plan"
    assert stripe_http.last("POST", "/v1/products").idempotency_key == f"{plan.idempotency_key}-product"


def test_an_id_chosen_by_the_host_is_kept(app: Flask, db: SQLAlchemy) -> None:
    plan = make_plan(db, stripe_plan_id="pro-monthly")
    assert plan.create_at_stripe()["id"] == "pro-monthly"
    assert get_state().gateway.request("get", "/v1/plans/pro-monthly")["amount"] == 2000


def test_second_call_is_refused(app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient) -> None:
    plan = make_plan(db)
    plan.create_at_stripe()
    stripe_http.clear()
    with pytest.raises(errors.PlanError, match="already created"):
        plan.create_at_stripe()
    assert not stripe_http.requests


def test_an_interrupted_creation_is_taken_over(app: Flask, db: SQLAlchemy) -> None:
    """The product and plan exist at Stripe (an earlier call's answer was lost); a new call adopts them."""
    plan = make_plan(db, stripe_plan_id="plan-taken-over", stripe_product_id="prod-taken-over")
    gateway = get_state().gateway
    gateway.request(
        "post", "/v1/products", {"id": "prod-taken-over", "name": "Pro"}, object_type="product", action="create"
    )
    gateway.request(
        "post",
        "/v1/plans",
        {"id": "plan-taken-over", "product": "prod-taken-over", "amount": 2000, "currency": "usd", "interval": "month"},
        object_type="plan",
        action="create",
    )
    data = plan.create_at_stripe()
    assert data["id"] == "plan-taken-over"
    assert plan.is_created_at_stripe


def test_a_different_plan_under_the_same_id_is_not_taken_over(app: Flask, db: SQLAlchemy) -> None:
    plan = make_plan(db, stripe_plan_id="plan-clash", stripe_product_id="prod-clash")
    gateway = get_state().gateway
    gateway.request("post", "/v1/products", {"id": "prod-clash", "name": "Pro"}, object_type="product", action="create")
    gateway.request(
        "post",
        "/v1/plans",
        {"id": "plan-clash", "product": "prod-clash", "amount": 9900, "currency": "eur", "interval": "year"},
        object_type="plan",
        action="create",
    )
    with pytest.raises(errors.PlanError, match="amount, currency, interval"):
        plan.create_at_stripe()
    db.session.refresh(plan)
    assert not plan.is_created_at_stripe


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
    assert plan.create_at_stripe()["interval_count"] == 3

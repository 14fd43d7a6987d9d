"""What the offline Stripe cannot do, through the spec-validating stub: trials, current shapes, lost answers,
coupons on a subscription, and failures in the cron command.

``STRIPE_PRORATION_POLICY``'s requests (cancel and plan switch): ``test_subscriptions_proration.py``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.models import (
    StripeCoupon,
    StripeCustomer,
    StripeSubscription,
    SubscriptionStatus,
    utcnow,
)
from flask_stripe_billing.subscriptions.from_stripe import apply_stripe_subscription
from flask_stripe_billing.subscriptions.verbs import is_subscribed, subscribe
from tests import hostapp
from tests.factories.subscriptions import (
    DAY,
    answer_subscriptions,
    stripe_plan,
    subscription_object,
)
from tests.stripe_openapi.stub import StripeStub, stripe_error


@pytest.fixture
def app(stub_app: Flask) -> Flask:
    """Every test here talks to the stub."""
    return stub_app


# -- trials and shapes ---------------------------------------------------------------------------------------


def test_a_plan_trial_is_asked_for_and_read(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    plan = stripe_plan(db, "plan_trial", trial_period_days=14)
    now = int(time.time())
    answer_subscriptions(stub, status="trialing", trial_start=now, trial_end=now + 14 * DAY)
    subscription = subscribe(user, plan)

    assert stripe_http.last("POST", "/v1/subscriptions").params["trial_period_days"] == 14
    assert subscription.status == SubscriptionStatus.TRIALING
    assert subscription.on_trial()
    assert subscription.trial_end == dt.datetime.fromtimestamp(now + 14 * DAY, dt.UTC)
    # Current shape: the period comes from the items (as the stub answered them, whatever second that was).
    [item] = subscription.stripe_response["items"]["data"]
    assert subscription.current_period_end == dt.datetime.fromtimestamp(item["current_period_end"], dt.UTC)
    assert "current_period_end" not in subscription.stripe_response
    assert is_subscribed(user)


def test_older_and_newer_shapes_give_the_same_row(app: Flask, db: SQLAlchemy) -> None:
    plan = stripe_plan(db, "plan_shapes")
    start, end = 1_700_000_000, 1_700_000_000 + 30 * DAY
    old = {"id": "sub_shape", "status": "active", "current_period_start": start, "current_period_end": end}
    new = {
        "id": "sub_shape",
        "status": "active",
        "items": {"data": [{"id": "si_1", "current_period_start": start, "current_period_end": end}]},
    }
    rows = []
    for data in (old, new):
        row = StripeSubscription(plan=plan)
        apply_stripe_subscription(row, data)
        rows.append((row.status, row.current_period_start, row.current_period_end))
    assert (
        rows[0]
        == rows[1]
        == ("active", dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC))
    )


def test_an_unknown_outcome_is_resolved_by_replaying_the_same_request(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    plan = stripe_plan(db, "plan_unknown")
    answers = iter([stripe_error(500, "An unknown error occurred.", kind="api_error")])

    def flaky(params: dict[str, Any], stored: Any) -> tuple[int, dict[str, Any]]:
        return next(answers, None) or (200, subscription_object(stub, params))

    stub.on("POST", "/v1/subscriptions", flaky)
    with pytest.raises(errors.OutcomeUnknownError):
        subscribe(user, plan)
    [row] = db.session.scalars(sa.select(StripeSubscription)).all()
    assert not row.is_created_at_stripe
    assert row.idempotency_key
    first_key = stripe_http.last("POST", "/v1/subscriptions").idempotency_key
    assert first_key == row.idempotency_key

    first_body = stripe_http.last("POST", "/v1/subscriptions").params

    # Subscribing again (the customer clicked twice) replays the stored request: no second subscription.
    again = subscribe(user, plan, payment_behavior="default_incomplete")
    retry = stripe_http.last("POST", "/v1/subscriptions")
    assert (retry.idempotency_key, retry.params) == (first_key, first_body)
    assert again.id == row.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 1
    assert again.is_created_at_stripe
    assert again.status == SubscriptionStatus.ACTIVE


# -- coupons on subscriptions --------------------------------------------------------------------------------


def live_coupon(db: SQLAlchemy, coupon_id: str = "SAVE10") -> StripeCoupon:
    coupon = StripeCoupon(coupon_id=coupon_id, percent_off=10, duration="forever", is_created_at_stripe=True)
    db.session.add(coupon)
    db.session.commit()
    return coupon


@pytest.mark.parametrize("shape", ["coupon", "source"])
def test_a_coupon_is_sent_as_discounts_and_read_back(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    stub_customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: Any,
    shape: str,
) -> None:
    coupon = live_coupon(db)
    plan = stripe_plan(db, "plan_coupon")
    coupon_object = {"id": "SAVE10", "object": "coupon", "percent_off": 10}
    # Until API 2025-09-30 a discount holds its coupon; since, under `source`.
    discount = {"coupon": coupon_object} if shape == "coupon" else {"source": {"type": "coupon", "coupon": "SAVE10"}}
    answer_subscriptions(stub, discounts=[{"id": "di_1", "object": "discount", **discount}])

    subscription = subscribe(user, plan, coupon="SAVE10")
    request = stripe_http.last("POST", "/v1/subscriptions")
    assert request.params["discounts"] == [{"coupon": "SAVE10"}]
    assert request.params["expand"] == ["discounts"]
    assert "coupon" not in request.params
    assert subscription.coupon is coupon
    assert subscription.stripe_response is not None
    assert subscription.stripe_response["discounts"][0]["id"] == "di_1"  # Stripe's data, discounts included


def test_an_api_without_discounts_gets_the_legacy_coupon(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    live_coupon(db)
    plan = stripe_plan(db, "plan_legacy")
    seen: list[dict[str, Any]] = []

    def old_api(params: dict[str, Any], stored: Any) -> tuple[int, dict[str, Any]]:
        seen.append(params)
        if "discounts" in params:
            return stripe_error(
                400, "Received unknown parameter: discounts", code="parameter_unknown", param="discounts"
            )
        return 200, subscription_object(stub, params, discount={"coupon": {"id": params["coupon"]}})

    stub.on("POST", "/v1/subscriptions", old_api)
    subscription = subscribe(user, plan, coupon="SAVE10")
    assert [("discounts" in params, params.get("coupon")) for params in seen] == [(True, None), (False, "SAVE10")]
    assert subscription.coupon is not None
    assert subscription.coupon.coupon_id == "SAVE10"
    assert subscription.is_created_at_stripe


def test_a_deleted_coupon_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer
) -> None:
    coupon = live_coupon(db)
    coupon.is_deleted = True
    db.session.commit()
    plan = stripe_plan(db, "plan_deleted_coupon")
    with pytest.raises(errors.SubscriptionError, match="deleted"):
        subscribe(user, plan, coupon=coupon)
    with pytest.raises(errors.SubscriptionError, match="No live coupon"):
        subscribe(user, plan, coupon="SAVE10")


# -- the cron command ----------------------------------------------------------------------------------------


def test_end_subscriptions_reports_failures_and_goes_on(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub
) -> None:
    answer_subscriptions(stub)
    plan = stripe_plan(db, "plan_cron")
    failing, fine = subscribe(user, plan), subscribe(user, plan)
    for row in (failing, fine):
        row.end_date = utcnow() - dt.timedelta(hours=1)
    db.session.commit()
    failing_id = failing.stripe_subscription_id  # read here: the stub answers from another thread

    def update(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["subscription_exposed_id"]]
        if obj["id"] == failing_id:
            return stripe_error(500, "Stripe is having a bad day.", kind="api_error")
        obj["cancel_at_period_end"] = True
        return 200, obj

    stub.on("POST", "/v1/subscriptions/{subscription_exposed_id}", update)
    result = app.test_cli_runner().invoke(args=["stripe", "end-subscriptions"])
    assert result.exit_code == 1
    assert f"subscription {failing.id} ({failing_id}): OutcomeUnknownError" in result.output
    assert "Ended 1 of 2 subscription(s) at period end; 1 failed." in result.output
    db.session.expire_all()
    assert db.session.get(StripeSubscription, fine.id).status == SubscriptionStatus.CANCELING  # type: ignore[union-attr]
    assert db.session.get(StripeSubscription, failing.id).status == SubscriptionStatus.ACTIVE  # type: ignore[union-attr]


def test_a_cancellation_refused_for_another_reason_is_raised(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub
) -> None:
    answer_subscriptions(stub)
    subscription = subscribe(user, stripe_plan(db, "plan_refused"))
    stub.on(
        "POST",
        "/v1/subscriptions/{subscription_exposed_id}",
        lambda params, stored: stripe_error(400, "This subscription is managed by a schedule.", code="bad_state"),
    )
    with pytest.raises(errors.InvalidRequestError, match="schedule"):
        subscription.cancel()
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.ACTIVE

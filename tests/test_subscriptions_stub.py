"""What the offline Stripe cannot do, through the spec-validating stub: trials, coupons on a subscription,
current shapes, STRIPE_PRORATION_POLICY's requests (cancel and plan switch), and failures in the cron command."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    StripeCoupon,
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
    SubscriptionStatus,
    utcnow,
)
from flask_stripe_billing.subscriptions.from_stripe import apply_stripe_subscription
from flask_stripe_billing.subscriptions.proration import refund_unused_time
from flask_stripe_billing.subscriptions.verbs import is_subscribed, subscribe
from tests import hostapp
from tests.conftest import running_app, stub_config
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error

DAY = 86400


@pytest.fixture
def policy() -> bool:
    """``STRIPE_PRORATION_POLICY``; tests parametrize it."""
    return False


@pytest.fixture
def api_version() -> str | None:
    """``STRIPE_API_VERSION`` (``None``: the library's); tests parametrize it."""
    return None


@pytest.fixture
def app(
    database_url: str, stub: StripeStub, stripe_http: ValidatingHTTPClient, policy: bool, api_version: str | None
) -> Iterator[Flask]:
    config: dict[str, Any] = {
        **stub_config(stub),
        "STRIPE_PRORATION_POLICY": policy,
        "SQLALCHEMY_DATABASE_URI": database_url,
    }
    if api_version is not None:
        config["STRIPE_API_VERSION"] = api_version
    with running_app(config, http_client=stripe_http) as application:
        yield application


@pytest.fixture
def customer(db: SQLAlchemy, user: hostapp.User) -> StripeCustomer:
    data = get_state().gateway.request("post", "/v1/customers", {}, object_type="test", action="create")
    row = StripeCustomer(stripe_customer_id=data["id"], is_created_at_stripe=True, subscriber_id=user.id)
    db.session.add(row)
    db.session.commit()
    return row


def stripe_plan(db: SQLAlchemy, stripe_id: str, **fields: Any) -> StripeSubscriptionPlan:
    """A plan already created at Stripe (the stub accepts any plan id)."""
    values = {"name": stripe_id, "amount": 2000, "currency": "usd", "interval": "month", "is_created_at_stripe": True}
    plan = StripeSubscriptionPlan(stripe_plan_id=stripe_id, **{**values, **fields})
    db.session.add(plan)
    db.session.commit()
    return plan


def subscription_object(stub: StripeStub, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A subscription in the current shape (period on the items), stored in the stub."""
    now = int(time.time())
    obj = stub.store.create("subscription", {})
    obj.update(
        {
            "customer": params.get("customer"),
            "status": "active",
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "ended_at": None,
            "trial_start": None,
            "trial_end": None,
            "metadata": params.get("metadata") or {},
            "discounts": [],
            "latest_invoice": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_first",
                        "object": "subscription_item",
                        "plan": {"id": params["items"][0]["plan"], "object": "plan"},
                        "current_period_start": now,
                        "current_period_end": now + 30 * DAY,
                    }
                ],
            },
            **fields,
        }
    )
    obj.pop("current_period_start", None)
    obj.pop("current_period_end", None)
    return obj


def answer_subscriptions(stub: StripeStub, **fields: Any) -> None:
    stub.on("POST", "/v1/subscriptions", lambda params, stored: (200, subscription_object(stub, params, **fields)))


def answer_plan_changes(stub: StripeStub) -> None:
    """Answer a change of plan (and of ``cancel_at_period_end``) with the stored subscription, changed."""

    def update(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["subscription_exposed_id"]]
        obj["items"]["data"][0]["plan"] = {"id": params["items"][0]["plan"], "object": "plan"}
        obj["cancel_at_period_end"] = params.get("cancel_at_period_end", obj["cancel_at_period_end"])
        return 200, obj

    stub.on("POST", "/v1/subscriptions/{subscription_exposed_id}", update)


# -- trials and shapes ---------------------------------------------------------------------------------------


def test_a_plan_trial_is_asked_for_and_read(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    plan = stripe_plan(db, "plan_trial", trial_period_days=14)
    now = int(time.time())
    answer_subscriptions(stub, status="trialing", trial_start=now, trial_end=now + 14 * DAY)
    subscription = subscribe(user, plan)

    assert stripe_http.last("POST", "/v1/subscriptions").params["trial_from_plan"] is True
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
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
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
    customer: StripeCustomer,
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
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
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


def test_a_deleted_coupon_is_refused(app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer) -> None:
    coupon = live_coupon(db)
    coupon.is_deleted = True
    db.session.commit()
    plan = stripe_plan(db, "plan_deleted_coupon")
    with pytest.raises(errors.SubscriptionError, match="deleted"):
        subscribe(user, plan, coupon=coupon)
    with pytest.raises(errors.SubscriptionError, match="No live coupon"):
        subscribe(user, plan, coupon="SAVE10")


# -- STRIPE_PRORATION_POLICY ---------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [False, True])
def test_cancel_during_a_trial_is_immediate_without_proration(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    now = int(time.time())
    answer_subscriptions(stub, status="trialing", trial_start=now, trial_end=now + 7 * DAY)
    subscription = subscribe(user, stripe_plan(db, "plan_t", trial_period_days=7))
    stripe_http.clear()
    subscription.cancel()
    request = stripe_http.last("DELETE", "/v1/subscriptions/{subscription_exposed_id}")
    assert "prorate" not in request.params
    assert "invoice_now" not in request.params
    assert subscription.status == SubscriptionStatus.CANCELED
    assert not [r for r in stripe_http.requests if r.templated_path == "/v1/refunds"]


def test_cancel_outside_a_trial_without_policy_runs_to_period_end(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    answer_subscriptions(stub)
    subscription = subscribe(user, stripe_plan(db, "plan_a"))
    stripe_http.clear()
    subscription.cancel()
    request = stripe_http.last()
    assert (request.method, request.templated_path) == ("POST", "/v1/subscriptions/{subscription_exposed_id}")
    assert request.params == {"cancel_at_period_end": True}
    assert subscription.status == SubscriptionStatus.CANCELING
    assert subscription.on_grace_period()
    assert not any(r.method == "DELETE" or r.templated_path == "/v1/refunds" for r in stripe_http.requests)


def prorated_cancel_ready(
    db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, invoice_shape: str = "old"
) -> StripeSubscription:
    """A subscription whose first invoice took 2000 and whose cancellation's final invoice credits 1500."""
    answer_subscriptions(stub)
    subscription = subscribe(user, stripe_plan(db, "plan_b"))
    stripe_id = subscription.stripe_subscription_id
    assert stripe_id is not None
    # Stripe's final invoice (invoice_now) credits 1500 of unused time; the first invoice took 2000.
    stub.store.objects["in_final"] = {
        "id": "in_final",
        "object": "invoice",
        "customer": customer.stripe_customer_id,
        "subscription": stripe_id,
        "status": "paid",
        "total": -1500,
        "amount_paid": 0,
        "currency": "usd",
    }
    paid = {"id": "in_first", "object": "invoice", "subscription": stripe_id, "status": "paid", "amount_paid": 2000}
    if invoice_shape == "old":
        paid["payment_intent"] = "pi_first"
    else:
        paid["payments"] = {"data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_first"}}]}
    stub.store.objects["in_first"] = paid

    def cancel(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["subscription_exposed_id"]]
        obj.update(
            status="canceled", canceled_at=int(time.time()), ended_at=int(time.time()), latest_invoice="in_final"
        )
        return 200, obj

    stub.on("DELETE", "/v1/subscriptions/{subscription_exposed_id}", cancel)
    return subscription


@pytest.mark.parametrize("policy", [True])
@pytest.mark.parametrize(
    ("invoice_shape", "api_version"), [("old", "2024-06-20"), ("old", None), ("new", None)], ids=["old", "mixed", "new"]
)
def test_cancel_outside_a_trial_with_policy_is_prorated_and_refunded(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: Any,
    invoice_shape: str,
    api_version: str | None,
) -> None:
    subscription = prorated_cancel_ready(db, user, customer, stub, invoice_shape)
    stripe_http.clear()
    subscription.cancel()

    request = stripe_http.last("DELETE", "/v1/subscriptions/{subscription_exposed_id}")
    assert request.params == {"prorate": True, "invoice_now": True}
    # Invoices name their payments in `payments` from API 2025-03-31 on; asking for it earlier is an error.
    listed = stripe_http.last("GET", "/v1/invoices").params
    assert listed.get("expand") == (None if api_version else ["data.payments"])
    assert subscription.status == SubscriptionStatus.CANCELED
    refund = stripe_http.last("POST", "/v1/refunds")
    assert refund.params["payment_intent"] == "pi_first"
    assert refund.params["amount"] == 1500
    assert refund.idempotency_key == f"{subscription.idempotency_key}-unused-in_final-refund"
    balance = stripe_http.last("POST", "/v1/customers/{customer}/balance_transactions")
    assert balance.params["amount"] == 1500  # the credit refunded is taken off the balance
    assert balance.params["currency"] == "usd"

    # Calling the refund again replays the same keys: Stripe answers with the same refund, none is added.
    refunds_before = [o for o in stub.store.objects.values() if o.get("object") == "refund"]
    assert refund_unused_time(subscription) == 1500
    assert [o for o in stub.store.objects.values() if o.get("object") == "refund"] == refunds_before
    assert not subscription.refund_due


@pytest.mark.parametrize("policy", [True])
def test_a_refund_cut_short_is_finished_by_cancelling_again(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    subscription = prorated_cancel_ready(db, user, customer, stub)
    failures = iter([stripe_error(500, "An unknown error occurred.", kind="api_error")])
    stub.on(
        "POST",
        "/v1/customers/{customer}/balance_transactions",
        lambda params, stored: next(failures, None) or (200, stub.store.create("customer_balance_transaction", params)),
    )
    with pytest.raises(errors.OutcomeUnknownError):
        subscription.cancel()
    db.session.refresh(subscription)
    assert (subscription.status, subscription.refund_due) == (SubscriptionStatus.CANCELED, True)

    subscription.cancel()  # finishes the refund: the same keys, so the refund made is not made again

    refunds = [o for o in stub.store.objects.values() if o.get("object") == "refund"]
    assert len(refunds) == 1
    assert not subscription.refund_due
    assert stripe_http.last("POST", "/v1/customers/{customer}/balance_transactions").params["amount"] == 1500


@pytest.mark.parametrize(("policy", "behavior"), [(False, "none"), (True, "always_invoice")])
def test_change_plan_follows_the_policy(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: Any,
    behavior: str,
) -> None:
    answer_subscriptions(stub)
    basic, pro = stripe_plan(db, "plan_basic"), stripe_plan(db, "plan_pro", amount=5000)
    subscription = subscribe(user, basic)

    answer_plan_changes(stub)
    subscription.change_plan(pro)
    request = stripe_http.last("POST", "/v1/subscriptions/{subscription_exposed_id}")
    assert request.params["items"] == [{"id": "si_first", "plan": "plan_pro"}]
    assert request.params["proration_behavior"] == behavior
    assert subscription.plan is pro
    assert is_subscribed(user, pro)
    assert not is_subscribed(user, basic)
    with pytest.raises(errors.SubscriptionError, match="already on plan"):
        subscription.change_plan(pro)


def test_choosing_a_plan_while_canceling_keeps_the_subscription(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    answer_subscriptions(stub, cancel_at_period_end=True)
    basic, pro = stripe_plan(db, "plan_basic"), stripe_plan(db, "plan_pro", amount=5000)
    subscription = subscribe(user, basic)
    assert subscription.status == SubscriptionStatus.CANCELING

    answer_plan_changes(stub)
    subscription.change_plan(pro)
    assert (
        stripe_http.last("POST", "/v1/subscriptions/{subscription_exposed_id}").params["cancel_at_period_end"] is False
    )
    assert subscription.status == SubscriptionStatus.ACTIVE


# -- the cron command ----------------------------------------------------------------------------------------


def test_end_subscriptions_reports_failures_and_goes_on(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub
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
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stub: StripeStub
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

"""``STRIPE_PRORATION_POLICY`` through the spec-validating stub: cancelling during a trial or outside one, the
prorated refund of unused time (finished after an interruption), and switching plans."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors
from flask_stripe_billing.models import (
    StripeCustomer,
    StripeSubscription,
    SubscriptionStatus,
)
from flask_stripe_billing.subscriptions.proration import refund_unused_time
from flask_stripe_billing.subscriptions.verbs import is_subscribed, subscribe
from tests import hostapp
from tests.factories.subscriptions import (
    DAY,
    answer_plan_changes,
    answer_subscriptions,
    stripe_plan,
)
from tests.stripe_openapi.stub import StripeStub, stripe_error


@pytest.fixture
def app(stub_app: Flask) -> Flask:
    """Every test here talks to the stub."""
    return stub_app


# -- STRIPE_PRORATION_POLICY ---------------------------------------------------------------------------------


@pytest.mark.parametrize("proration_policy", [False, True])
def test_cancel_during_a_trial_is_immediate_without_proration(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
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
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
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
    db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, invoice_shape: str = "old"
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
        "customer": stub_customer.stripe_customer_id,
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


@pytest.mark.parametrize("proration_policy", [True])
@pytest.mark.parametrize(
    ("invoice_shape", "stripe_api_version"),
    [("old", "2024-06-20"), ("old", None), ("new", None)],
    ids=["old", "mixed", "new"],
)
def test_cancel_outside_a_trial_with_policy_is_prorated_and_refunded(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    stub_customer: StripeCustomer,
    stub: StripeStub,
    stripe_http: Any,
    invoice_shape: str,
    stripe_api_version: str | None,
) -> None:
    subscription = prorated_cancel_ready(db, user, stub_customer, stub, invoice_shape)
    stripe_http.clear()
    subscription.cancel()

    request = stripe_http.last("DELETE", "/v1/subscriptions/{subscription_exposed_id}")
    assert request.params == {"prorate": True, "invoice_now": True}
    # Invoices name their payments in `payments` from API 2025-03-31 on; asking for it earlier is an error.
    listed = stripe_http.last("GET", "/v1/invoices").params
    assert listed.get("expand") == (None if stripe_api_version else ["data.payments"])
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


@pytest.mark.parametrize("proration_policy", [True])
def test_a_refund_cut_short_is_finished_by_cancelling_again(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
) -> None:
    subscription = prorated_cancel_ready(db, user, stub_customer, stub)
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


@pytest.mark.parametrize(("proration_policy", "behavior"), [(False, "none"), (True, "always_invoice")])
def test_change_plan_follows_the_policy(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    stub_customer: StripeCustomer,
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
    assert request.params["items"] == [{"id": "si_first", "price": "plan_pro"}]
    assert request.params["proration_behavior"] == behavior
    assert subscription.plan is pro
    assert is_subscribed(user, pro)
    assert not is_subscribed(user, basic)
    with pytest.raises(errors.SubscriptionError, match="already on plan"):
        subscription.change_plan(pro)


def test_choosing_a_plan_while_canceling_keeps_the_subscription(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stub: StripeStub, stripe_http: Any
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

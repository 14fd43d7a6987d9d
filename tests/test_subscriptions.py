"""Subscriptions against the offline Stripe: subscribe, refresh, cancel now or at period end, end on schedule,
webhooks; with a user and with an organization as the subscriber."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors, signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import (
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
    SubscriptionStatus,
    utcnow,
)
from flask_stripe_billing.subscriptions.verbs import active_subscription, is_subscribed, subscribe
from flask_stripe_billing.webhooks.handlers.subscriptions import invoice_subscription_id
from tests import hostapp
from tests.conftest import reset_database, signals_with_committed_state
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.test_customers import make_payment_method, make_token
from tests.test_webhook_route import deliver, event


def created_plan(db: SQLAlchemy, **fields: Any) -> StripeSubscriptionPlan:
    plan = StripeSubscriptionPlan(**{"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month", **fields})
    db.session.add(plan)
    db.session.commit()
    plan.create_at_stripe()
    return plan


@pytest.fixture
def plan(db: SQLAlchemy) -> StripeSubscriptionPlan:
    return created_plan(db)


@pytest.fixture
def customer(db: SQLAlchemy, user: hostapp.User) -> StripeCustomer:
    return create_customer(user, make_token())


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Subscription signals received, with the row's committed status when each was sent."""
    names = {
        signals.subscription_created: "created",
        signals.subscription_updated: "updated",
        signals.subscription_canceled: "canceled",
    }

    def committed(connection: sa.Connection, subscription: StripeSubscription) -> Any:
        query = sa.select(StripeSubscription.status).where(StripeSubscription.id == subscription.id)
        return connection.execute(query).scalar_one()

    with signals_with_committed_state(names, committed) as seen:
        yield seen


def test_metadata_given_to_subscribe_is_merged_keeping_subscriber_id(
    app: Flask, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan, metadata={"team": "blue", "subscriber_id": "999"})

    at_stripe = get_state().gateway.request("get", f"/v1/subscriptions/{subscription.stripe_subscription_id}")
    assert at_stripe["metadata"]["subscriber_id"] == str(user.id)
    assert at_stripe["metadata"]["team"] == "blue"


def test_subscribe_creates_it_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    recorded: list[tuple[str, dict[str, Any]]],
    stripe_http: ValidatingHTTPClient,
) -> None:
    subscription = subscribe(user, plan)

    assert subscription.is_created_at_stripe
    assert subscription.stripe_subscription_id
    assert subscription.stripe_subscription_id.startswith("sub_")
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.customer is customer
    assert subscription.plan is plan
    assert subscription.subscriber_id == user.id
    # localstripe answers in the older shape: the period at the top level.
    assert subscription.current_period_start is not None
    assert subscription.current_period_end is not None
    assert subscription.current_period_end > subscription.current_period_start
    assert subscription.stripe_synced_at is not None
    request = stripe_http.last("POST", "/v1/subscriptions")
    assert request.idempotency_key == subscription.idempotency_key
    assert request.params["items"] == [{"plan": plan.stripe_plan_id}]
    assert request.params["customer"] == customer.stripe_customer_id
    assert [(name, kwargs["committed"]) for name, kwargs in recorded] == [("created", "active")]
    assert active_subscription(user) is subscription
    assert is_subscribed(user)
    assert is_subscribed(user, plan)
    assert not is_subscribed(user, created_plan(db, name="Other"))


def test_nothing_is_sent_before_create_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    stripe_http: ValidatingHTTPClient,
) -> None:
    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    stripe_http.clear()
    assert not stripe_http.requests
    assert not is_subscribed(user)

    data = subscription.create_at_stripe()
    assert data["id"] == subscription.stripe_subscription_id
    assert data["status"] == "active"
    assert "discount" in data or "discounts" in data  # Stripe's own object, discounts included
    assert subscription.customer is customer  # the subscriber's latest active customer
    with pytest.raises(errors.SubscriptionError, match="already created"):
        subscription.create_at_stripe()


def test_without_a_customer_nothing_is_written(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    stripe_http.clear()
    with pytest.raises(errors.NoCustomerError):
        subscribe(user, plan)
    assert not stripe_http.requests
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0

    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    with pytest.raises(errors.NoCustomerError):
        subscription.create_at_stripe()
    assert not stripe_http.requests
    assert not subscription.is_created_at_stripe


def test_a_plan_not_created_at_stripe_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    plan = StripeSubscriptionPlan(name="Draft", amount=100, currency="usd")
    db.session.add(plan)
    db.session.commit()
    stripe_http.clear()
    with pytest.raises(errors.SubscriptionError, match="create_at_stripe"):
        subscribe(user, plan)
    assert not stripe_http.requests


def test_an_unknown_coupon_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    with pytest.raises(errors.SubscriptionError, match="No live coupon"):
        subscribe(user, plan, coupon="NOPE")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0


def test_a_coupon_on_a_subscription_discounts_its_first_invoice(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    stripe_http: ValidatingHTTPClient,
) -> None:
    """Sent as ``discounts`` (the current API), once; the subscription keeps the coupon and Stripe bills less."""
    from flask_stripe_billing.coupons.verbs import create_coupon

    create_coupon(coupon_id="LOCAL10", percent_off=10, duration="once")
    stripe_http.clear()
    subscription = subscribe(user, plan, coupon="LOCAL10")
    sent = [request.params for request in stripe_http.requests if request.templated_path == "/v1/subscriptions"]
    assert [("discounts" in params, params.get("coupon")) for params in sent] == [(True, None)]
    assert subscription.coupon is not None
    assert subscription.coupon.coupon_id == "LOCAL10"
    assert subscription.status == "active"
    invoices = get_state().gateway.request("get", "/v1/invoices", {"subscription": subscription.stripe_subscription_id})
    assert [(invoice["subtotal"], invoice["total"]) for invoice in invoices["data"]] == [
        (plan.amount, plan.amount - plan.amount // 10)
    ]


def test_subscribing_again_while_the_first_payment_waits_makes_no_second_subscription(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    from flask_stripe_billing.subscriptions import payment as subscription_payment

    create_customer(user, make_payment_method("4000002760003184"))
    waiting = subscribe(user, plan)
    assert waiting.status == "incomplete"
    payment = subscription_payment.first_payment(waiting)
    assert payment is not None
    assert payment.amount_due == plan.amount
    assert payment.client_secret.startswith("pi_")
    stripe_http.clear()
    assert subscribe(user, plan) is waiting
    assert not [r for r in stripe_http.requests if r.method == "post"]
    other = StripeSubscriptionPlan(name="Other", amount=100, currency="usd")
    db.session.add(other)
    db.session.commit()
    other.create_at_stripe()
    with pytest.raises(errors.SubscriptionError, match="waiting for its first payment"):
        subscribe(user, other)
    waiting.cancel()
    assert waiting.status == "canceled"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 1


def test_a_refused_subscription_leaves_no_row(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    # The plan disappeared at Stripe: Stripe refuses, and the row made for the attempt goes again.
    get_state().gateway.request("delete", f"/v1/plans/{plan.stripe_plan_id}", object_type="plan", action="delete")
    with pytest.raises(errors.InvalidRequestError):
        subscribe(user, plan)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0


def test_cancel_at_period_end_then_now(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    recorded: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    recorded.clear()

    subscription.cancel()  # STRIPE_PRORATION_POLICY = False, not on trial: at period end
    assert subscription.status == SubscriptionStatus.CANCELING
    assert subscription.at_period_end
    assert subscription.on_grace_period()
    assert is_subscribed(user)  # paid until the period ends
    at_stripe = get_state().gateway.request("get", f"/v1/subscriptions/{subscription.stripe_subscription_id}")
    assert at_stripe["cancel_at_period_end"] is True
    assert at_stripe["status"] == "active"
    assert [(name, kwargs["at_period_end"], kwargs["committed"]) for name, kwargs in recorded] == [
        ("canceled", True, "canceling")
    ]

    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.ended_at is not None
    assert not subscription.at_period_end
    assert not is_subscribed(user)
    assert active_subscription(user) is None


def test_cancel_now_and_again(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.cancel() is subscription  # already canceled: nothing to do, no error


def test_canceled_at_stripe_already_is_not_an_error(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    get_state().gateway.request(
        "delete", f"/v1/subscriptions/{subscription.stripe_subscription_id}", object_type="test", action="cancel"
    )
    subscription.cancel(at_period_end=True)  # Stripe refuses an update of a canceled subscription, or accepts it
    assert subscription.status == SubscriptionStatus.CANCELED  # what cancel() itself recorded
    subscription.refresh_from_stripe()
    assert subscription.status == SubscriptionStatus.CANCELED


def test_a_subscription_gone_at_stripe_is_taken_as_canceled(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    subscription = subscribe(user, plan)
    subscription.stripe_subscription_id = "sub_unknown_at_stripe"
    db.session.commit()
    subscription.cancel(at_period_end=False)
    assert subscription.status == SubscriptionStatus.CANCELED


def test_cancelling_a_subscription_never_created_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, stripe_http: ValidatingHTTPClient
) -> None:
    subscription = StripeSubscription(plan=plan, subscriber_id=user.id)
    db.session.add(subscription)
    db.session.commit()
    stripe_http.clear()
    for verb in (subscription.cancel, subscription.refresh_from_stripe):
        with pytest.raises(errors.SubscriptionError, match="never created"):
            verb()
    assert not stripe_http.requests
    assert subscription.status is None


def test_refresh_reads_changes_made_at_stripe(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    recorded: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    get_state().gateway.request(
        "post",
        f"/v1/subscriptions/{subscription.stripe_subscription_id}",
        {"cancel_at_period_end": True},
        object_type="test",
        action="update",
    )
    recorded.clear()
    subscription.refresh_from_stripe()
    assert subscription.status == SubscriptionStatus.CANCELING
    assert [name for name, _ in recorded] == ["canceled"]
    recorded.clear()
    subscription.refresh_from_stripe()
    assert recorded == []  # nothing changed, nothing announced


def _expired(db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan) -> StripeSubscription:
    subscription = subscribe(user, plan)
    subscription.end_date = utcnow() - dt.timedelta(days=1)
    db.session.commit()
    return subscription


def test_get_subscriptions_for_cancel(
    app: Flask, db: SQLAlchemy, user: hostapp.User, plan: StripeSubscriptionPlan, customer: StripeCustomer
) -> None:
    expired = _expired(db, user, plan)
    later = subscribe(user, plan)
    later.end_date = utcnow() + dt.timedelta(days=1)
    db.session.commit()
    subscribe(user, plan)  # no end date
    ended = _expired(db, user, plan)
    ended.cancel(at_period_end=False)
    assert StripeSubscription.get_subscriptions_for_cancel() == [expired]


@pytest.mark.parametrize(("args", "status"), [([], "canceling"), (["--now"], "canceled")])
def test_end_subscriptions_command(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    args: list[str],
    status: str,
) -> None:
    first, second = _expired(db, user, plan), _expired(db, user, plan)
    result = app.test_cli_runner().invoke(args=["stripe", "end-subscriptions", *args])
    assert result.exit_code == 0, result.output
    assert "Ended 2 of 2 subscription(s)" in result.output
    for subscription in (first, second):
        db.session.refresh(subscription)
        assert subscription.status == status
    assert StripeSubscription.get_subscriptions_for_cancel() == []
    assert StripeSubscription.end_subscriptions().total == 0


def test_organization_subscriber(database_url: str, stripe_config: dict[str, Any], stripe_http: Any) -> None:
    app = hostapp.create_app(
        {**stripe_config, "SQLALCHEMY_DATABASE_URI": database_url},
        db=hostapp.org_db,
        subscriber_model=hostapp.Organization,
        http_client=stripe_http,
    )
    with app.app_context():
        reset_database(hostapp.org_db)
        try:
            org = hostapp.Organization(name="Acme", billing_email="billing@acme.test")
            hostapp.org_db.session.add(org)
            hostapp.org_db.session.commit()
            plan = created_plan(hostapp.org_db)
            customer = create_customer(org, make_token())
            subscription = subscribe(org, plan)
            assert subscription.subscriber is org
            assert subscription.customer is customer
            assert is_subscribed(org)
            subscription.cancel(at_period_end=False)
            assert not is_subscribed(org)
        finally:
            hostapp.org_db.session.remove()
            hostapp.org_db.drop_all()
            hostapp.org_db.engine.dispose()


# --- webhooks -----------------------------------------------------------------------------------------------


def _deliver(client: FlaskClient, event_type: str, obj: dict[str, Any], created: int | None = None) -> None:
    body = event(f"evt_{event_type}_{time.time_ns()}", event_type, data={"object": obj})
    if created is not None:
        body["created"] = created
    response = deliver(client, json.dumps(body).encode())
    assert response.status_code == 200


def test_subscription_updated_event_is_applied_and_announced_after_commit(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    recorded: list[tuple[str, dict[str, Any]]],
) -> None:
    subscription = subscribe(user, plan)
    recorded.clear()
    now = int(time.time())
    obj = {
        "id": subscription.stripe_subscription_id,
        "object": "subscription",
        "status": "past_due",
        "cancel_at_period_end": False,
        "items": {"data": [{"id": "si_1", "current_period_start": now, "current_period_end": now + 86400 * 30}]},
    }
    _deliver(client, "customer.subscription.updated", obj, created=now + 5)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.PAST_DUE
    assert subscription.current_period_end == dt.datetime.fromtimestamp(now + 86400 * 30, dt.UTC)
    assert [(name, kwargs["committed"]) for name, kwargs in recorded] == [("updated", "past_due")]

    # An older event does not overwrite newer state.
    _deliver(client, "customer.subscription.updated", {**obj, "status": "active"}, created=now - 60)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.PAST_DUE

    _deliver(client, "customer.subscription.deleted", {**obj, "status": "canceled", "ended_at": now}, created=now + 9)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.CANCELED
    assert [name for name, _ in recorded] == ["updated", "canceled"]


@pytest.mark.parametrize("shape", ["old", "new"])
def test_invoice_events_reread_the_subscription(
    app: Flask,
    client: FlaskClient,
    db: SQLAlchemy,
    user: hostapp.User,
    plan: StripeSubscriptionPlan,
    customer: StripeCustomer,
    shape: str,
) -> None:
    subscription = subscribe(user, plan)
    stripe_id = subscription.stripe_subscription_id
    # Changed at Stripe without an event reaching us; the invoice event makes us look.
    get_state().gateway.request(
        "post", f"/v1/subscriptions/{stripe_id}", {"cancel_at_period_end": True}, object_type="test", action="update"
    )
    if shape == "old":
        invoice = {"id": "in_1", "object": "invoice", "subscription": stripe_id}
    else:
        invoice = {
            "id": "in_1",
            "object": "invoice",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": stripe_id}},
        }
    _deliver(client, "invoice.paid", invoice)
    db.session.refresh(subscription)
    assert subscription.status == SubscriptionStatus.CANCELING


def test_invoice_subscription_id_reads_every_shape() -> None:
    assert invoice_subscription_id({"subscription": "sub_old"}) == "sub_old"
    assert invoice_subscription_id({"subscription": {"id": "sub_expanded"}}) == "sub_expanded"
    new = {"parent": {"subscription_details": {"subscription": {"id": "sub_new"}}}, "subscription": None}
    assert invoice_subscription_id(new) == "sub_new"
    assert invoice_subscription_id({"parent": None}) is None

"""The subscription gate on a view: ``@subscription_required``, the status policy, why non-payers are redirected,
payment collection paused at Stripe.

Gating a whole app or blueprint (``require_subscription``) and its exemptions: ``test_gate_app.py``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeCustomer, StripeSubscriptionPlan
from flask_stripe_billing.subscriptions.from_stripe import apply_stripe_subscription
from flask_stripe_billing.subscriptions.verbs import subscribe
from flask_stripe_billing.testing import SignalRecorder, send_webhook
from flask_stripe_billing.web.gate import (
    NO_PLAN_MESSAGE,
    PAUSED_MESSAGE,
    has_access,
    subscription_required,
)
from tests import hostapp
from tests.factories.apps import make_user
from tests.factories.gate import EARLIER, LATER, NOW, page, subscribe_row
from tests.factories.pages import flashed
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub


@pytest.fixture
def gated_view(app: Flask) -> Flask:
    """An application-level view behind ``@subscription_required``, and one refusing past-due payers."""
    app.add_url_rule("/reports", "reports", subscription_required(page("reports")))
    app.add_url_rule("/exports", "exports", subscription_required(allow_past_due=False)(page("exports")))
    return app


def test_anonymous_visitors_without_a_login_view_get_401(gated_view: Flask, client: FlaskClient) -> None:
    assert client.get("/reports").status_code == 401


def test_anonymous_visitors_are_sent_to_the_login_view(
    gated_view: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated_view.add_url_rule("/login", "login", page("login"))
    monkeypatch.setattr(hostapp.login, "login_view", "login")

    response = client.get("/reports?x=1")

    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert "reports" in response.location


def test_non_payers_go_to_the_plans_page_by_default(gated_view: Flask, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.get("/reports")

    assert response.status_code == 302
    assert response.location.startswith("/billing/plans")
    assert response.location.endswith("next=/reports")


@pytest.mark.parametrize(
    ("redirect_to", "expected"),
    [("/pricing", "/pricing"), ("pricing", "/pricing-page"), ("https://x.test/p", "https://x.test/p")],
)
def test_non_payers_go_to_the_configured_redirect(
    gated_view: Flask, logged_in_client: FlaskClient, redirect_to: str, expected: str
) -> None:
    gated_view.add_url_rule("/pricing-page", "pricing", page("pricing"))
    # The key is read at init_app; replace the validated configuration the way a new init_app would.
    state = get_state(gated_view)
    state.config = dataclasses.replace(state.config, subscription_redirect=redirect_to)

    response = logged_in_client.get("/reports")

    assert response.status_code == 302
    assert response.location == expected


def test_json_callers_get_402(gated_view: Flask, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.get("/reports", headers={"Accept": "application/json"})

    assert response.status_code == 402
    assert response.json is not None
    assert response.json["redirect"].startswith("/billing/plans")


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("active", True),
        ("trialing", True),
        ("past_due", True),
        ("canceling", True),
        ("incomplete", False),
        ("incomplete_expired", False),
        ("canceled", False),
        ("unpaid", False),
        ("paused", False),
        (None, False),
    ],
)
def test_status_policy(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, status: str, allowed: bool
) -> None:
    subscribe_row(db, user, status)

    response = logged_in_client.get("/reports")

    assert response.status_code == (200 if allowed else 302)
    assert has_access(user) is allowed


def test_canceling_subscriptions_give_access_until_the_period_ends(
    app: Flask, db: SQLAlchemy, user: hostapp.User
) -> None:
    subscribe_row(db, user, "canceling", period_end=LATER)
    assert has_access(user)
    assert not has_access(user, now=LATER + dt.timedelta(seconds=1))


def test_canceling_without_a_known_period_end_keeps_access(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    subscribe_row(db, user, "canceling", period_end=None)
    assert has_access(user)


def test_a_canceling_subscription_whose_period_ended_gives_no_access(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscribe_row(db, user, "canceling", period_end=EARLIER)
    assert logged_in_client.get("/reports").status_code == 302


def test_a_subscription_past_its_local_end_date_gives_no_access(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    subscribe_row(db, user, "active", end_date=EARLIER)
    assert not has_access(user)
    subscribe_row(db, user, "active", end_date=LATER)
    assert has_access(user)


def test_past_due_can_be_refused(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscribe_row(db, user, "past_due")

    assert logged_in_client.get("/reports").status_code == 200
    assert logged_in_client.get("/exports").status_code == 302
    assert not has_access(user, allow_past_due=False)


def test_someone_elses_subscription_gives_no_access(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscribe_row(db, make_user(db, "bob@example.com"), "active")

    assert logged_in_client.get("/reports").status_code == 302


def test_the_gate_reads_only_the_database(
    gated_view: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    logged_in_client: FlaskClient,
    stripe_http: ValidatingHTTPClient,
) -> None:
    stripe_http.clear()

    logged_in_client.get("/reports")
    subscribe_row(db, user, "active")
    logged_in_client.get("/reports")

    assert list(stripe_http.requests) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeCustomer)) == 0


# -- why non-payers are redirected ---------------------------------------------------------------------------


def test_non_payers_are_told_why_they_were_redirected(gated_view: Flask, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.get("/reports")

    assert response.status_code == 302
    assert flashed(logged_in_client) == [("info", NO_PLAN_MESSAGE)]
    plans = logged_in_client.get(response.location)
    assert NO_PLAN_MESSAGE in plans.get_data(as_text=True)  # the plans page shows it


def test_json_callers_and_payers_get_no_flash(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    assert logged_in_client.get("/reports", headers={"Accept": "application/json"}).status_code == 402
    subscribe_row(db, user, "active")
    assert logged_in_client.get("/reports").status_code == 200
    assert flashed(logged_in_client) == []


# -- payment collection paused at Stripe (pause_collection) --------------------------------------------------


def test_a_paused_collection_gives_no_access_until_it_resumes(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    subscription = subscribe_row(db, user, "active")
    subscription.pause_collection_behavior = "void"
    db.session.commit()
    assert not has_access(user)

    subscription.pause_collection_resumes_at = LATER
    db.session.commit()
    assert not has_access(user)
    assert has_access(user, now=LATER + dt.timedelta(seconds=1))  # Stripe resumes it then


def test_a_subscription_paused_by_webhook_is_refused_at_the_gate(
    gated_view: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscription = subscribe_row(db, user, "active")
    obj = {"id": subscription.stripe_subscription_id, "object": "subscription", "status": "active"}
    created = int(NOW.timestamp())

    with SignalRecorder(signals.subscription_updated) as recorded:
        send_webhook(
            logged_in_client,
            "customer.subscription.updated",
            {**obj, "pause_collection": {"behavior": "keep_as_draft", "resumes_at": None}},
            created=created + 1,
            previous_attributes={"pause_collection": None},
        )

    assert len(recorded.of(signals.subscription_updated)) == 1  # pausing is a change hosts hear about
    db.session.refresh(subscription)
    assert (subscription.status, subscription.pause_collection_behavior) == ("active", "keep_as_draft")
    response = logged_in_client.get("/reports")
    assert response.status_code == 302
    assert flashed(logged_in_client) == [("info", PAUSED_MESSAGE)]

    send_webhook(
        logged_in_client,
        "customer.subscription.updated",
        {**obj, "pause_collection": None},
        created=created + 2,
        previous_attributes={"pause_collection": {"behavior": "keep_as_draft", "resumes_at": None}},
    )
    db.session.refresh(subscription)
    assert subscription.pause_collection_behavior is None
    assert logged_in_client.get("/reports").status_code == 200


def test_a_pause_is_read_from_stripe_library_objects(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    subscription = subscribe_row(db, user, "active")
    resumes_at = int(LATER.timestamp())
    paused = stripe.StripeObject.construct_from(
        {
            "id": subscription.stripe_subscription_id,
            "object": "subscription",
            "status": "active",
            "pause_collection": {"behavior": "mark_uncollectible", "resumes_at": resumes_at},
        },
        "sk_test_objects",
    )
    assert not isinstance(paused, Mapping)

    apply_stripe_subscription(subscription, paused)  # type: ignore[arg-type]
    db.session.commit()
    assert subscription.pause_collection_behavior == "mark_uncollectible"
    assert subscription.pause_collection_resumes_at == dt.datetime.fromtimestamp(resumes_at, dt.UTC)
    assert not has_access(user)

    # A dict holding a library object, then ``null`` (collection resumed).
    apply_stripe_subscription(subscription, {"status": "active", "pause_collection": paused["pause_collection"]})
    assert subscription.pause_collection_behavior == "mark_uncollectible"
    apply_stripe_subscription(subscription, {"status": "active", "pause_collection": None})
    db.session.commit()
    assert has_access(user)


def test_a_pause_made_at_stripe_is_found_by_a_refresh(
    stub_app: Flask, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    db = hostapp.db
    account = make_user(db)
    gateway = get_state().gateway
    stripe_customer = gateway.request("post", "/v1/customers", {}, object_type="test", action="create")
    db.session.add(
        StripeCustomer(stripe_customer_id=stripe_customer["id"], is_created_at_stripe=True, subscriber_id=account.id)
    )
    plan = StripeSubscriptionPlan(
        name="Pro", amount=2000, currency="usd", interval="month", stripe_plan_id="plan_pro", is_created_at_stripe=True
    )
    db.session.add(plan)
    db.session.commit()

    def create(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stub.store.create("subscription", {})
        now = int(NOW.timestamp())
        obj.update(
            status="active",
            customer=params["customer"],
            cancel_at_period_end=False,
            cancel_at=None,
            pause_collection=None,
            items={
                "object": "list",
                "data": [
                    {
                        "id": "si_1",
                        "object": "subscription_item",
                        "current_period_start": now,
                        "current_period_end": now + 86400,
                    }
                ],
            },
        )
        return 200, obj

    def pause(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["subscription_exposed_id"]]
        obj["pause_collection"] = params["pause_collection"] or None  # "" resumes collection
        return 200, obj

    stub.on("POST", "/v1/subscriptions", create)
    stub.on("POST", "/v1/subscriptions/{subscription_exposed_id}", pause)
    subscription = subscribe(account, plan)
    assert has_access(account)

    # Paused elsewhere (the Dashboard, another service): no event reached us; a refresh reads it.
    path = f"/v1/subscriptions/{subscription.stripe_subscription_id}"
    gateway.request("post", path, {"pause_collection": {"behavior": "void"}}, object_type="test", action="pause")
    subscription.refresh_from_stripe()
    assert subscription.status == "active"
    assert subscription.pause_collection_behavior == "void"
    assert not has_access(account)

    gateway.request("post", path, {"pause_collection": ""}, object_type="test", action="resume")
    subscription.refresh_from_stripe()
    assert subscription.pause_collection_behavior is None
    assert has_access(account)

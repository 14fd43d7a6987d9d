"""Customers and cards against the offline Stripe: tokens, payment methods, declines, refresh, superseding."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors, signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.from_stripe import summarize_card, summarize_sources
from flask_stripe_billing.customers.refresh import refresh_all_customers
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import StripeCustomer
from flask_stripe_billing.offline import OfflineStripe, free_port
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.apps import log_in, make_user, running_app
from tests.factories.cards import DECLINED_CARD, make_payment_method
from tests.fault_proxy import FaultProxy


def all_customers(db: SQLAlchemy) -> list[StripeCustomer]:
    return list(db.session.scalars(sa.select(StripeCustomer).order_by(StripeCustomer.id)))


def test_token_flow_creates_a_customer_with_its_card(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer = create_customer(user, create_card_token())

    assert customer.stripe_customer_id
    assert customer.stripe_customer_id.startswith("cus_")
    assert customer.is_created_at_stripe
    assert customer.is_active
    assert customer.idempotency_key
    assert len(customer.sources) == 1
    source = customer.sources[0]
    assert source["last4"] == "4242"
    assert source["exp_month"] == 12
    assert source["exp_year"] == 2034
    assert customer.default_source == source["id"]
    assert customer.default_source_data == source
    at_stripe = get_state().gateway.request("get", f"/v1/customers/{customer.stripe_customer_id}")
    assert at_stripe["email"] == "ada@example.com"
    assert at_stripe["metadata"] == {
        "subscriber_id": str(user.id),
        "subscriber_type": "User",
        "subscriber_email": "ada@example.com",
    }
    assert StripeCustomer.get_latest_active_customer_for_user(user) is customer


def test_payment_method_flow_attaches_and_sets_default(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    method = make_payment_method()
    customer = create_customer(user, method)

    assert [source["id"] for source in customer.sources] == [method]
    assert customer.default_source == method
    assert customer.default_source_data is not None
    assert customer.default_source_data["last4"] == "4242"


@pytest.mark.parametrize("flow", ["token", "payment_method"])
def test_declined_card_leaves_no_active_orphan(app: Flask, db: SQLAlchemy, user: hostapp.User, flow: str) -> None:
    card = create_card_token(DECLINED_CARD) if flow == "token" else make_payment_method(DECLINED_CARD)
    with pytest.raises(errors.CardError) as caught:
        create_customer(user, card)
    assert caught.value.user_message
    rows = all_customers(db)
    assert len(rows) == 1
    assert rows[0].is_active is False
    assert rows[0].is_created_at_stripe is False
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None


def test_new_customer_supersedes_older_ones(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    first = create_customer(user, create_card_token())
    second = create_customer(user, make_payment_method())
    db.session.refresh(first)
    assert first.is_active is False
    assert second.is_active is True
    assert StripeCustomer.get_latest_active_customer_for_user(user) is second


def test_signal_fires_after_commit(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    seen: list[tuple[bool, bool]] = []

    def receiver(sender: Any, instance: StripeCustomer) -> None:
        with db.engine.connect() as connection:
            committed = connection.execute(
                sa.select(StripeCustomer.is_created_at_stripe).where(StripeCustomer.id == instance.id)
            ).scalar_one()
        seen.append((bool(committed), bool(db.session.dirty or db.session.new)))

    with signals.customer_created.connected_to(receiver):
        create_customer(user, create_card_token())
    assert seen == [(True, False)]


def test_add_new_source_and_refresh(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer = create_customer(user, create_card_token())
    method = make_payment_method()
    customer.add_new_source(method)
    assert {source["id"] for source in customer.sources} >= {method}
    assert len(customer.sources) == 2
    assert customer.default_source == method
    assert customer.refresh_from_stripe().default_source == method


def test_add_declined_source_raises_card_error(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer = create_customer(user, create_card_token())
    with pytest.raises(errors.CardError):
        customer.add_new_source(make_payment_method(DECLINED_CARD))
    db.session.refresh(customer)
    assert len(customer.sources) == 1
    assert customer.is_active


def test_refresh_marks_a_deleted_customer_inactive(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    customer = create_customer(user, create_card_token())
    get_state().gateway.request(
        "delete", f"/v1/customers/{customer.stripe_customer_id}", object_type="customer", action="delete"
    )
    customer.refresh_from_stripe()
    db.session.refresh(customer)
    assert customer.is_active is False
    assert db.session.get(StripeCustomer, customer.id) is not None


def test_summaries_read_old_and_new_shapes() -> None:
    card = {"id": "card_1", "object": "card", "brand": "Visa", "last4": "4242", "exp_month": 1, "exp_year": 2030}
    source = {"id": "src_1", "object": "source", "card": {"brand": "Visa", "last4": "1111", "exp_month": 2}}
    method = {"id": "pm_1", "object": "payment_method", "card": {"brand": "visa", "last4": "0005"}}
    bank = {"id": "ba_1", "object": "bank_account", "last4": "6789"}
    data = {"sources": {"data": [card, source, bank]}, "payment_methods": {"data": [method, method]}}
    assert [item["id"] for item in summarize_sources(data)] == ["card_1", "src_1", "pm_1"]
    assert summarize_card(source) == {
        "id": "src_1",
        "brand": "Visa",
        "last4": "1111",
        "exp_month": 2,
        "exp_year": None,
    }
    assert summarize_sources({"sources": None}) == []


# --- The JSON API -------------------------------------------------------------------------------------------

API = "/billing/api"


def test_api_creates_a_customer_from_a_token(app: Flask, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.post(f"{API}/customers", json={"stripe_js_response": {"id": create_card_token()}})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "id",
        "stripe_customer_id",
        "is_active",
        "sources",
        "default_source",
        "default_source_data",
        "created_at",
    }
    assert body["stripe_customer_id"].startswith("cus_")
    assert body["default_source_data"]["last4"] == "4242"
    assert body["sources"] == [body["default_source_data"]]


def test_api_setup_intent_flow(app: Flask, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.post(f"{API}/setup-intents", json={})
    assert response.status_code == 201
    intent = response.get_json()
    assert intent["client_secret"]
    method = make_payment_method()
    get_state().gateway.request(
        "post",
        f"/v1/setup_intents/{intent['id']}/confirm",
        {"payment_method": method},
        object_type="setup_intent",
        action="confirm",
    )
    response = logged_in_client.post(f"{API}/customers", json={"payment_method": method})
    assert response.status_code == 201
    assert response.get_json()["default_source"] == method


def test_api_decline_is_a_400_with_a_safe_message(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.post(f"{API}/customers", json={"payment_method": make_payment_method(DECLINED_CARD)})
    assert response.status_code == 400
    assert response.get_json()["stripe_error"]
    assert all(row.is_active is False for row in all_customers(db))


@pytest.mark.parametrize(
    "body",
    [{"stripe_js_response": {"id": "tok_unknown"}}, {"payment_method": "pm_unknown"}],
    ids=["token", "payment-method"],
)
def test_api_unknown_token_or_payment_method_is_a_400(
    app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient, body: dict[str, Any]
) -> None:
    response = logged_in_client.post(f"{API}/customers", json=body)
    assert response.status_code == 400
    assert "stripe_error" in response.get_json()
    assert all(row.is_active is False for row in all_customers(db))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "stripe_js_response"),
        ({"stripe_js_response": {}}, "stripe_js_response.id"),
        ({"stripe_js_response": {"id": 5}}, "stripe_js_response.id"),
        ({"payment_method": "card_1"}, "payment_method"),
    ],
)
def test_api_malformed_bodies(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient, body: Any, field: str) -> None:
    response = logged_in_client.post(f"{API}/customers", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert all_customers(db) == []


def test_api_refuses_form_posts(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient) -> None:
    response = logged_in_client.post(f"{API}/customers", data={"payment_method": "pm_1"})
    assert response.status_code == 415
    assert all_customers(db) == []


def test_api_needs_login_and_answers_json(app: Flask, client: FlaskClient) -> None:
    response = client.post(f"{API}/customers", json={"payment_method": "pm_1"})
    assert response.status_code == 401
    assert response.is_json
    assert client.get(f"{API}/customers/cus_1").status_code == 401


def test_api_get_and_patch_are_owner_only(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient) -> None:
    created = logged_in_client.post(
        f"{API}/customers", json={"stripe_js_response": {"id": create_card_token()}}
    ).get_json()
    url = f"{API}/customers/{created['stripe_customer_id']}"
    assert logged_in_client.get(url).get_json() == created

    customer = db.session.scalars(sa.select(StripeCustomer)).one()
    method = make_payment_method()
    customer.add_new_source(method)
    first_card = created["default_source"]
    response = logged_in_client.patch(url, json={"default_source": first_card})
    assert response.status_code == 200
    assert response.get_json()["default_source"] == first_card
    bad = logged_in_client.patch(url, json={"default_source": "card_nope"})
    assert bad.status_code == 400
    assert "default_source" in bad.get_json()["errors"]

    other = hostapp.User(email="bob@example.com")
    db.session.add(other)
    db.session.commit()
    with logged_in_client.session_transaction() as session:
        session["_user_id"] = str(other.id)
    g.pop("_login_user", None)  # requests share the test's app context, where Flask-Login caches the user
    assert logged_in_client.get(url).status_code == 404
    assert logged_in_client.patch(url, json={"default_source": first_card}).status_code == 404
    assert logged_in_client.get(f"{API}/customers/cus_unknown").status_code == 404
    assert logged_in_client.get(f"{API}/customers/cus%00x").status_code == 404  # PostgreSQL refuses NUL in text


# --- refresh-customers --------------------------------------------------------------------------------------


def test_refresh_customers_command_pages_through_every_customer(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    gateway = get_state().gateway
    for _ in range(260):
        data = gateway.request("post", "/v1/customers", {}, object_type="customer", action="create")
        db.session.add(
            StripeCustomer(
                subscriber_id=user.id,
                stripe_customer_id=data["id"],
                is_created_at_stripe=True,
                is_active=False,
            )
        )
    db.session.commit()
    rows = all_customers(db)
    changed, deleted = rows[5], rows[150]
    deleted.is_active = True
    db.session.commit()
    gateway.request(
        "post",
        f"/v1/customers/{changed.stripe_customer_id}/sources",
        {"source": create_card_token()},
        object_type="source",
        action="create",
    )
    gateway.request("delete", f"/v1/customers/{deleted.stripe_customer_id}", object_type="customer", action="delete")
    db.session.remove()

    result = app.test_cli_runner().invoke(args=["stripe", "refresh-customers"])

    assert result.exit_code == 0, result.output
    assert "260 customer(s): 1 updated, 258 unchanged, 1 missing at Stripe, 0 error(s)" in result.output
    assert db.session.get(StripeCustomer, changed.id).sources[0]["last4"] == "4242"  # type: ignore[union-attr]
    assert db.session.get(StripeCustomer, deleted.id).is_active is False  # type: ignore[union-attr]


def test_refresh_all_customers_backs_off_on_rate_limits_and_lost_answers(
    stripe_test_config: dict[str, Any], database_url: str, offline_stripe: OfflineStripe, stripe_http: Any
) -> None:
    """A 429 or a 5xx while reading a customer is tried again after a pause, doubled each time; after
    *max_attempts* the customer is reported, and the others are refreshed all the same."""
    with FaultProxy(offline_stripe.url) as proxy:
        config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_API_BASE": proxy.url}
        with running_app(config, http_client=stripe_http):
            user = make_user(hostapp.db)
            first = create_customer(user, create_card_token())
            create_customer(user, create_card_token())
            path = f"/v1/customers/{first.stripe_customer_id}"
            proxy.queue_fault("rate_limited", method="GET", path=path)
            proxy.queue_fault("fail_before", method="GET", path=path)  # a 500: the outcome is unknown
            pauses: list[float] = []

            summary = refresh_all_customers(batch_size=1, backoff=0.5, sleep=pauses.append)

            assert pauses == [0.5, 1.0]
            assert (summary.updated, summary.unchanged, summary.missing, summary.errors) == (0, 2, 0, 0)

            proxy.queue_fault("rate_limited", method="GET", path=path)
            proxy.queue_fault("rate_limited", method="GET", path=path)
            pauses.clear()

            summary = refresh_all_customers(max_attempts=2, sleep=pauses.append)

            assert pauses == [1.0]
            assert (summary.unchanged, summary.errors) == (1, 1)
            [failure] = summary.failures.items
            assert isinstance(failure.error, errors.RateLimitError)
            assert failure.item == f"customer {first.stripe_customer_id}"
            assert proxy.counts == {"rate_limited": 3, "fail_before": 1}
            assert not proxy.violations


def test_api_payment_method_of_another_customer_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    method = make_payment_method()
    other = hostapp.User(email="bob@example.com")
    db.session.add(other)
    db.session.commit()
    theirs = create_customer(other, method)

    response = logged_in_client.post(f"{API}/customers", json={"payment_method": method})

    assert response.status_code == 400
    assert response.get_json()["stripe_error"]
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None
    db.session.refresh(theirs)
    assert theirs.is_active


def test_api_stripe_outage_is_a_json_502(stripe_test_config: dict[str, Any], database_url: str) -> None:
    config = {
        **stripe_test_config,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }
    with running_app(config) as app:
        client = log_in(app.test_client(), make_user(hostapp.db, "outage@example.com"))
        response = client.post(f"{API}/setup-intents", json={})
        assert response.status_code == 502
        assert response.get_json() == {"stripe_error": errors.StripeRequestError.default_user_message}

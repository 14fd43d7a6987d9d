"""Checkout Sessions through the spec-validating stub: what is sent, the customer made once, input refused before any
request, the return page storing the result at once, and ``STRIPE_CHECKOUT`` on the plans and pay pages."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling, errors, signals
from flask_stripe_billing.billable import BillableMixin
from flask_stripe_billing.checkout import CheckoutSession, checkout_customer, create_checkout_session
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCoupon,
    StripeCustomer,
    StripeIdempotencyKey,
    StripeSubscription,
    SubscriptionStatus,
)
from flask_stripe_billing.testing import SignalRecorder
from tests import hostapp
from tests.factories.apps import log_in, make_user, running_app, stub_config
from tests.factories.charges import new_charge
from tests.factories.checkout import (
    checkout_app,
    complete_in_stub,
    stub_payment_intent,
    stub_setup_intent,
    stub_subscription,
)
from tests.factories.pages import flashed, post
from tests.factories.subscriptions import created_plan, stripe_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error

RETURN = "http://billing.test/billing/checkout/return"


@pytest.fixture
def app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http) as application:
        yield application


def customers_of(db: SQLAlchemy, user: hostapp.User) -> list[StripeCustomer]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StripeCustomer).where(StripeCustomer.subscriber_id == user.id)))


def subscriptions_of(db: SQLAlchemy, user: hostapp.User) -> list[StripeSubscription]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StripeSubscription).where(StripeSubscription.subscriber_id == user.id)))


# -- creating a session --------------------------------------------------------------------------------------------


def test_a_subscription_session_names_the_subscriber_and_comes_back_to_the_package(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    plan = stripe_plan(db, "plan_pro", trial_period_days=7)
    session = StripeBilling().checkout(user, plan, quantity=2)

    assert isinstance(session, CheckoutSession)
    assert session.id.startswith("cs_")
    assert session.url
    assert session.url.startswith("https://")
    assert session.mode == "subscription"
    sent = stripe_http.last("POST", "/v1/checkout/sessions")
    [customer] = customers_of(db, user)
    assert sent.params["customer"] == customer.stripe_customer_id
    assert sent.params["mode"] == "subscription"
    assert sent.params["client_reference_id"] == str(user.id)
    assert sent.params["metadata"] == {"subscriber_id": str(user.id), "subscriber_type": "User"}
    assert sent.params["line_items"] == [{"price": "plan_pro", "quantity": 2}]
    assert sent.params["subscription_data"]["metadata"]["subscriber_id"] == str(user.id)
    assert sent.params["subscription_data"]["trial_period_days"] == 7  # the plan's trial, when none is given
    assert sent.params["success_url"] == RETURN + "?session_id={CHECKOUT_SESSION_ID}"
    assert sent.params["cancel_url"] == "http://billing.test/billing/plans"
    # The key was recorded before the request was sent (on a connection of its own: a new transaction sees it,
    # also under MariaDB's REPEATABLE READ).
    db.session.rollback()
    keys = db.session.scalars(
        sa.select(StripeIdempotencyKey.uuid).where(StripeIdempotencyKey.object_type == "checkout_session")
    )
    assert list(keys) == [sent.idempotency_key]


def test_the_customer_is_created_once_then_reused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    plan = stripe_plan(db, "plan_pro")
    with SignalRecorder() as recorder:
        first = create_checkout_session(user, plan)
        second = create_checkout_session(user, "plan_pro", trial_days=0)
    assert first.id != second.id
    customer_posts = [r for r in stripe_http.requests if r.method == "POST" and r.templated_path == "/v1/customers"]
    assert len(customer_posts) == 1
    assert customer_posts[0].params["email"] == "ada@example.com"
    assert customer_posts[0].params["metadata"]["subscriber_id"] == str(user.id)
    [customer] = customers_of(db, user)
    assert customer.is_created_at_stripe
    assert customer.is_active
    assert customer.idempotency_key == customer_posts[0].idempotency_key
    assert len(recorder.of(signals.customer_created)) == 1
    assert "trial_period_days" not in stripe_http.last("POST", "/v1/checkout/sessions").params["subscription_data"]


def test_a_customer_with_a_card_is_used_as_it_is(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub_customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    stripe_http.clear()
    create_checkout_session(user, stripe_plan(db, "plan_pro"))
    assert [r.templated_path for r in stripe_http.requests] == ["/v1/checkout/sessions"]
    assert stripe_http.last().params["customer"] == stub_customer.stripe_customer_id


def test_two_checkouts_at_once_make_one_customer(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    start = threading.Barrier(2)
    found: list[str | None] = []
    failures: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                subscriber = db.session.get(hostapp.User, user.id)
                start.wait()
                found.append(checkout_customer(subscriber).stripe_customer_id)
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(found) == 2
    assert found[0] == found[1]
    db.session.rollback()  # a new transaction sees the threads' commits (MariaDB reads in REPEATABLE READ)
    created = [row for row in customers_of(db, user) if row.is_created_at_stripe]
    assert [row.stripe_customer_id for row in created] == [found[0]]


def test_payment_and_setup_sessions(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    ebook = {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Ebook"}}
    session = create_checkout_session(user, ebook, "price_sticker", mode="payment", quantity=3)
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert session.mode == "payment"
    assert sent["line_items"] == [{"price_data": ebook, "quantity": 3}, {"price": "price_sticker", "quantity": 3}]
    assert sent["payment_intent_data"]["metadata"]["subscriber_id"] == str(user.id)
    assert "subscription_data" not in sent

    # A lookup key is resolved to its active price, which must be one-time.
    price = stub.store.create("price", {})
    price.update({"lookup_key": "poster", "type": "one_time", "active": True})
    create_checkout_session(user, "poster", mode="payment")
    assert stripe_http.last("POST", "/v1/checkout/sessions").params["line_items"] == [
        {"price": price["id"], "quantity": 1}
    ]
    price["type"] = "recurring"
    with pytest.raises(errors.CheckoutError, match="recurring"):
        create_checkout_session(user, "poster", mode="payment")

    create_checkout_session(user, mode="setup")
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert sent["mode"] == "setup"
    assert sent["currency"] == "usd"
    assert "line_items" not in sent
    assert sent["setup_intent_data"]["metadata"]["subscriber_id"] == str(user.id)


def test_coupons_metadata_and_stripe_options(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    plan = stripe_plan(db, "plan_pro")
    coupon = StripeCoupon(coupon_id="WELCOME", percent_off=10, duration="once", is_created_at_stripe=True)
    db.session.add(coupon)
    db.session.commit()
    create_checkout_session(
        user,
        plan,
        coupon="WELCOME",
        metadata={"order": 7, "subscriber_id": "someone else"},
        subscription_data={"description": "Pro for Ada", "metadata": {"team": "a"}},
        locale="fr",
    )
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert sent["discounts"] == [{"coupon": "WELCOME"}]
    assert sent["metadata"] == {"order": "7", "subscriber_id": str(user.id), "subscriber_type": "User"}
    assert sent["subscription_data"]["description"] == "Pro for Ada"
    assert sent["subscription_data"]["metadata"] == {
        "team": "a",
        "subscriber_id": str(user.id),
        "subscriber_type": "User",
    }
    assert sent["locale"] == "fr"

    create_checkout_session(user, plan, allow_promotion_codes=True, success_url="https://shop.test/thanks")
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert sent["allow_promotion_codes"] is True
    assert "discounts" not in sent
    assert sent["success_url"] == "https://shop.test/thanks"


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((), {}, "at least one plan or price"),
        (("plan_pro",), {"mode": "donation"}, "mode must be one of"),
        (("plan_pro",), {"mode": "setup"}, "sells nothing"),
        (("plan_pro",), {"quantity": 0}, "quantity"),
        (("plan_pro",), {"quantity": True}, "quantity"),
        (("plan_pro",), {"trial_days": 731}, "trial_days"),
        (("plan_pro",), {"trial_days": 3, "mode": "payment"}, "subscription sessions only"),
        (("plan_pro",), {"coupon": "WELCOME", "allow_promotion_codes": True}, "not both"),
        (("plan_pro",), {"success_url": "/relative"}, "absolute"),
        (("plan_pro",), {"cancel_url": "javascript:alert(1)"}, "absolute"),
        ((42,), {}, "is not a plan"),
        (("plan_pro",), {"coupon": "NOPE"}, "No live coupon"),
        (({"currency": "usd", "unit_amount": 1.5, "product_data": {"name": "x"}},), {"mode": "payment"}, "unit_amount"),
        (({"currency": "eur$", "unit_amount": 100, "product_data": {"name": "x"}},), {"mode": "payment"}, "currency"),
        (({"currency": "usd", "unit_amount": 100},), {"mode": "payment"}, "product"),
        (({"currency": "usd", "unit_amount": 100, "product": "prod_1"},), {}, "recurring"),
        (({"price_data": "x"},), {"mode": "payment"}, "must be a mapping"),
        (("",), {"mode": "payment"}, "is not a plan"),
        (("plan_pro",), {"metadata": "x"}, "must be a mapping"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    stripe_http: ValidatingHTTPClient,
    args: tuple[Any, ...],
    options: dict[str, Any],
    message: str,
) -> None:
    stripe_plan(db, "plan_pro")
    stripe_http.clear()
    with pytest.raises(errors.CheckoutError, match=message):
        create_checkout_session(user, *args, **options)
    assert list(stripe_http.requests) == []
    assert customers_of(db, user) == []


def test_a_price_stripe_does_not_have_is_refused_after_asking_for_it_only(
    app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    stripe_http.clear()
    with pytest.raises(errors.CheckoutError, match="Stripe has no price 'plan_unknown'"):
        create_checkout_session(user, "plan_unknown")
    assert [request.method for request in stripe_http.requests] == ["GET"]  # looked up, nothing created
    assert customers_of(db, user) == []


def test_a_plan_row_is_refused_in_payment_mode(app: Flask, db: SQLAlchemy, user: hostapp.User) -> None:
    with pytest.raises(errors.CheckoutError, match="recurring"):
        create_checkout_session(user, stripe_plan(db, "plan_pro"), mode="payment")


def test_default_urls_need_a_request_or_server_name(stub: StripeStub, database_url: str, stripe_http: Any) -> None:
    config = {**stub_config(stub), "SQLALCHEMY_DATABASE_URI": database_url}
    with running_app(config, http_client=stripe_http) as application:
        user = make_user(hostapp.db)
        plan = stripe_plan(hostapp.db, "plan_pro")
        with pytest.raises(errors.CheckoutError, match="SERVER_NAME"):
            create_checkout_session(user, plan)
        urls = {"success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"}
        assert create_checkout_session(user, plan, **urls).id
        with application.test_request_context(base_url="https://shop.test"):
            create_checkout_session(user, plan)
        assert (
            stripe_http.last("POST", "/v1/checkout/sessions")
            .params["success_url"]
            .startswith("https://shop.test/billing/checkout/return?session_id=")
        )


def test_the_mixin_delegates(app: Flask, db: SQLAlchemy, user: hostapp.User, stripe_http: Any) -> None:
    session = BillableMixin.checkout(user, stripe_plan(db, "plan_pro"), trial_days=3)  # type: ignore[arg-type]
    assert session.mode == "subscription"
    assert stripe_http.last("POST", "/v1/checkout/sessions").params["subscription_data"]["trial_period_days"] == 3


# -- the return page -------------------------------------------------------------------------------------------------


def completed_subscription_session(stub: StripeStub, db: SQLAlchemy, user: hostapp.User) -> tuple[str, dict[str, Any]]:
    """A subscription session of *user*'s, completed in the stub; its id and its subscription."""
    session = create_checkout_session(user, stripe_plan(db, "plan_pro"))
    [customer] = [c for c in customers_of(db, user) if c.is_created_at_stripe]
    assert customer.stripe_customer_id
    subscription = stub_subscription(
        stub, customer.stripe_customer_id, "plan_pro", metadata={"subscriber_id": str(user.id)}
    )
    complete_in_stub(stub, session.id, subscription=subscription["id"])
    return session.id, subscription


def test_the_return_page_stores_the_subscription_at_once_and_only_once(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, stripe_http: Any
) -> None:
    session_id, subscription = completed_subscription_session(stub, db, user)
    log_in(client, user)
    with SignalRecorder() as recorder:
        response = client.get(f"/billing/checkout/return?session_id={session_id}")
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/billing/account")
        assert flashed(client) == [("success", "Thank you: you are subscribed to plan_pro.")]
        again = client.get(f"/billing/checkout/return?session_id={session_id}&next=/billing/plans")
        assert again.headers["Location"].endswith("/billing/plans")
    read = stripe_http.last("GET", "/v1/checkout/sessions/{session}")
    assert set(read.params["expand"]) >= {"subscription", "payment_intent", "setup_intent"}
    [row] = subscriptions_of(db, user)
    assert row.stripe_subscription_id == subscription["id"]
    assert row.is_created_at_stripe
    assert row.status == SubscriptionStatus.ACTIVE
    assert row.plan.stripe_plan_id == "plan_pro"
    assert row.customer is not None
    assert row.customer.subscriber_id == user.id
    assert [name for name in recorder.names if "subscription" in name] == ["subscription-created"]


def test_the_return_page_refuses_bad_unknown_and_foreign_sessions(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub
) -> None:
    session_id, _ = completed_subscription_session(stub, db, user)
    other = make_user(db, "eve@example.com")
    log_in(client, other)
    for query, status in [
        ("", 400),
        ("?session_id=", 400),
        ("?session_id=cs_%00x", 400),
        ("?session_id=" + "cs_" + "a" * 300, 400),
        ("?session_id=pi_123", 400),
        ("?session_id=cs_test_unknown", 404),
        (f"?session_id={session_id}", 404),  # Ada's, seen by Eve
    ]:
        response = client.get(f"/billing/checkout/return{query}")
        assert response.status_code == status, query
        assert "Back to your account" in response.text
    assert subscriptions_of(db, user) == []
    assert subscriptions_of(db, other) == []


def test_the_return_page_when_stripe_cannot_answer(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub
) -> None:
    session_id, _ = completed_subscription_session(stub, db, user)
    stub.on(
        "GET", "/v1/checkout/sessions/{session}", lambda params, stored: stripe_error(500, "down", kind="api_error")
    )
    log_in(client, user)
    response = client.get(f"/billing/checkout/return?session_id={session_id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/billing/account")
    [(category, message)] = flashed(client)
    assert category == "error"
    assert "do not pay again" in message
    assert subscriptions_of(db, user) == []


def test_an_open_or_expired_session_stores_nothing(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub
) -> None:
    session = create_checkout_session(user, stripe_plan(db, "plan_pro"))
    log_in(client, user)
    client.get(f"/billing/checkout/return?session_id={session.id}")
    assert flashed(client) == [("info", "The checkout was not completed: nothing was taken.")]
    complete_in_stub(stub, session.id, status="expired", payment_status="unpaid")
    client.get(f"/billing/checkout/return?session_id={session.id}")
    assert flashed(client)[-1] == ("info", "This checkout has expired: nothing was taken.")
    assert subscriptions_of(db, user) == []


def test_a_setup_session_saves_the_card_as_the_default(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stub: StripeStub, stripe_http: Any
) -> None:
    session = create_checkout_session(user, mode="setup")
    [customer] = customers_of(db, user)
    assert customer.stripe_customer_id
    method = stub.store.create("payment_method", {})
    method.update({"customer": customer.stripe_customer_id, "type": "card"})
    method["card"].update({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034})
    stored_customer = stub.store.get(customer.stripe_customer_id)
    assert stored_customer is not None
    stored_customer.update({"invoice_settings": {"default_payment_method": None}, "default_source": None})

    def set_default(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["customer"]]
        obj["invoice_settings"] = {**obj["invoice_settings"], **params["invoice_settings"]}
        return 200, obj

    stub.on("POST", "/v1/customers/{customer}", set_default)
    complete_in_stub(
        stub, session.id, setup_intent=stub_setup_intent(stub, customer.stripe_customer_id, method["id"])["id"]
    )
    log_in(client, user)
    client.get(f"/billing/checkout/return?session_id={session.id}")
    assert flashed(client) == [("success", "Your card is saved.")]
    assert stripe_http.last("POST", "/v1/customers/{customer}").params == {
        "invoice_settings": {"default_payment_method": method["id"]}
    }
    [customer] = customers_of(db, user)
    assert customer.default_source == method["id"]
    assert [card["last4"] for card in customer.sources] == ["4242"]


# -- STRIPE_CHECKOUT on the pages --------------------------------------------------------------------------------------


@pytest.fixture
def checkout_pages(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http, STRIPE_CHECKOUT=True) as application:
        yield application


def test_the_plans_page_goes_through_checkout(
    checkout_pages: Flask, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    db = hostapp.db
    user = make_user(db)
    plan = stripe_plan(db, "plan_pro")
    client = log_in(checkout_pages.test_client(), user)
    assert "secure checkout page" in client.get("/billing/plans").text
    response = post(client, "/billing/subscribe", {"plan_id": str(plan.id), "next": "/billing/plans"})
    assert response.status_code == 303
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert sent["line_items"] == [{"price": "plan_pro", "quantity": 1}]
    assert sent["success_url"] == RETURN + "?next=/billing/plans&session_id={CHECKOUT_SESSION_ID}"
    assert response.headers["Location"].startswith("https://checkout.stripe.com/")


def test_the_pay_page_goes_through_checkout_and_the_payment_lands_on_the_charge(
    checkout_pages: Flask, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    db = hostapp.db
    user = make_user(db)
    charge = new_charge(db, user, 2500, description="Workshop seat")
    client = log_in(checkout_pages.test_client(), user)
    assert "secure checkout page" in client.get(f"/billing/charges/{charge.id}/pay").text
    response = post(client, f"/billing/charges/{charge.id}/pay")
    assert response.status_code == 303
    sent = stripe_http.last("POST", "/v1/checkout/sessions").params
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [
        {
            "price_data": {"currency": "usd", "unit_amount": 2500, "product_data": {"name": "Workshop seat"}},
            "quantity": 1,
        }
    ]
    assert sent["payment_intent_data"]["metadata"]["charge_id"] == str(charge.id)
    [session_id] = [key for key, obj in stub.store.objects.items() if obj.get("object") == "checkout.session"]
    customer_id = sent["customer"]
    intent = stub_payment_intent(stub, customer_id, 2500, metadata=sent["payment_intent_data"]["metadata"])
    complete_in_stub(stub, session_id, payment_intent=intent["id"])

    with SignalRecorder() as recorder:
        back = client.get(f"/billing/checkout/return?session_id={session_id}&next=/billing/charges/{charge.id}/pay")
        client.get(f"/billing/checkout/return?session_id={session_id}")
    assert back.headers["Location"].endswith(f"/billing/charges/{charge.id}/pay")
    db.session.expire_all()
    charge = db.session.get(type(charge), charge.id)
    assert charge.status == ChargeStatus.SUCCEEDED
    assert charge.is_charged
    assert charge.stripe_payment_intent_id == intent["id"]
    assert [name for name in recorder.names if "charge" in name] == ["stripe-charge-succeeded"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(type(charge))) == 1


# -- end to end, on the offline Stripe: its hosted page completes the session ---------------------------------------


def pay_on_the_hosted_page(session_url: str, number: str = "4242424242424242") -> str:
    """What the customer does on the offline Stripe's Checkout page (the card confirmed as its Stripe.js does);
    return where the page sends them (the ``303``'s ``Location``)."""
    from tests.factories.cards import make_payment_method

    parts = urllib.parse.urlsplit(session_url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("POST", f"{parts.path}/setup_intent")
        intent = json.loads(connection.getresponse().read())
        get_state().gateway.request(
            "post",
            f"/v1/setup_intents/{intent['id']}/confirm",
            {"payment_method": make_payment_method(number)},
            object_type="setup_intent",
            action="confirm",
        )
        form = urllib.parse.urlencode({"setup_intent": intent["id"], "email": "ada@example.com"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", parts.path, body=form, headers=headers)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 303, answer.status
        return str(answer.getheader("Location"))
    finally:
        connection.close()


def test_a_subscription_bought_on_the_offline_stripes_hosted_page(bare_app: Flask) -> None:
    with bare_app.app_context():
        db = hostapp.db
        user = make_user(db)
        plan = created_plan(db)
        with bare_app.test_request_context(base_url="http://app.test"):
            try:
                session = create_checkout_session(user, plan)
            except errors.StripeRequestError as exc:
                if exc.http_status == 404:
                    pytest.skip("this offline Stripe has no Checkout Sessions")
                raise
        assert session.url
        location = pay_on_the_hosted_page(session.url)
        assert location == f"http://app.test/billing/checkout/return?session_id={session.id}"

        client = log_in(bare_app.test_client(), user)
        back = client.get(location.removeprefix("http://app.test"))
        assert back.status_code == 302
        assert flashed(client) == [("success", f"Thank you: you are subscribed to {plan.name}.")]
        [row] = subscriptions_of(db, user)
        assert row.plan_id == plan.id
        assert row.is_live
        assert len(customers_of(db, user)) == 1

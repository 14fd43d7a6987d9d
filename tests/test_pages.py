"""The billing pages through the test client, against the offline Stripe: login, ownership, CSRF, every page."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import charges, plans
from flask_stripe_billing.charges import refunds
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCharge,
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
)
from flask_stripe_billing.offline import OFFLINE_API_KEY, OfflineStripe
from flask_stripe_billing.web.pages import formatting
from tests import hostapp
from tests.test_charges import DECLINED_ON_CHARGE, SCA_CARD, customer_with, new_charge
from tests.test_customers import DECLINED_CARD, make_payment_method, make_token

TOKEN_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(client: FlaskClient, path: str = "/billing/account") -> str:
    """The token the pages render into their forms and head (read from a page, as a browser would)."""
    match = TOKEN_META.search(client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a page's form with this session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def make_plan(name: str = "Pro", amount: int = 1500, **fields: Any) -> StripeSubscriptionPlan:
    plan = StripeSubscriptionPlan(name=name, amount=amount, currency="usd", **fields)
    get_state().db.session.add(plan)
    get_state().db.session.commit()
    plans.create_plan(plan)
    return plan


def other_user(db: SQLAlchemy) -> hostapp.User:
    other = hostapp.User(email="eve@example.com")
    db.session.add(other)
    db.session.commit()
    return other


def subscriptions_of(db: SQLAlchemy, user: hostapp.User) -> list[StripeSubscription]:
    db.session.expire_all()
    query = sa.select(StripeSubscription).where(StripeSubscription.subscriber_id == user.id)
    return list(db.session.scalars(query))


# -- login, ownership, CSRF, secrets --------------------------------------------------------------------------

PAGES = [
    ("GET", "/billing/"),
    ("GET", "/billing/account"),
    ("GET", "/billing/card"),
    ("POST", "/billing/card"),
    ("GET", "/billing/plans"),
    ("POST", "/billing/subscribe"),
    ("GET", "/billing/subscriptions/1/cancel"),
    ("POST", "/billing/subscriptions/1/cancel"),
    ("GET", "/billing/subscriptions/1/confirm"),
    ("POST", "/billing/subscriptions/1/confirm"),
    ("GET", "/billing/charges/1/pay"),
    ("POST", "/billing/charges/1/pay"),
    ("GET", "/billing/charges/1/confirm"),
    ("POST", "/billing/charges/1/confirm"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_every_page_needs_a_login(app: Flask, client: FlaskClient, method: str, path: str) -> None:
    assert client.open(path, method=method).status_code == 401


def test_anonymous_visitors_are_sent_to_the_hosts_login_view(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.add_url_rule("/login", "login", lambda: "login")
    monkeypatch.setattr(hostapp.login, "login_view", "login")

    response = client.get("/billing/account")

    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/billing/charges/{}/pay",
        "/billing/charges/{}/confirm",
        "/billing/subscriptions/{}/cancel",
        "/billing/subscriptions/{}/confirm",
    ],
)
@pytest.mark.parametrize("row_id", ["0", "2147483648", "99999999999999999999999"])
def test_ids_no_row_can_have_are_404(app: Flask, logged_in_client: FlaskClient, path: str, row_id: str) -> None:
    token = csrf_token(logged_in_client)
    assert logged_in_client.get(path.format(row_id)).status_code == 404
    assert logged_in_client.post(path.format(row_id), data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/charges/{charge}/pay",
        "/charges/{charge}/confirm",
        "/subscriptions/{subscription}/cancel",
        "/subscriptions/{subscription}/confirm",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_someone_elses_rows_are_404(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, path: str, method: str
) -> None:
    eve = other_user(db)
    charge = new_charge(db, eve)
    plan = StripeSubscriptionPlan(name="Pro", amount=1500, currency="usd")
    subscription = StripeSubscription(plan=plan, subscriber_id=eve.id, status="active", is_created_at_stripe=True)
    db.session.add(subscription)
    db.session.commit()
    url = "/billing" + path.format(charge=charge.id, subscription=subscription.id)
    token = csrf_token(logged_in_client)

    assert logged_in_client.open(url, method=method, data={"csrf_token": token}).status_code == 404
    missing = url.replace(f"/{charge.id}/", "/999999/").replace(f"/{subscription.id}/", "/999999/")
    assert logged_in_client.open(missing, method=method, data={"csrf_token": token}).status_code == 404
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.PENDING


@pytest.mark.parametrize(
    "path",
    ["/billing/card", "/billing/subscribe", "/billing/charges/{charge}/pay", "/billing/charges/{charge}/confirm"],
)
@pytest.mark.parametrize("token", [None, "forged", ""])
def test_posts_without_this_sessions_csrf_token_are_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, path: str, token: str | None
) -> None:
    customer_with(user)
    charge = new_charge(db, user)
    csrf_token(logged_in_client)  # the session has a token; the request does not carry it
    data = {"payment_method": make_payment_method()} | ({"csrf_token": token} if token is not None else {})

    response = logged_in_client.post(path.format(charge=charge.id), data=data)

    assert response.status_code == 400
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.PENDING
    assert len(db.session.scalars(sa.select(StripeCustomer)).all()) == 1


@pytest.mark.parametrize("token", [None, "forged"])
def test_cancelling_without_this_sessions_csrf_token_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, token: str | None
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    data = {"csrf_token": token} if token is not None else {}

    response = logged_in_client.post(f"/billing/subscriptions/{subscription.id}/cancel", data=data)

    assert response.status_code == 400
    db.session.refresh(subscription)
    assert subscription.status == "active"


def test_pages_render_the_publishable_key_and_never_the_secret_key(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, SCA_CARD)
    charge = new_charge(db, user)
    with pytest.raises(Exception, match="authenticat"):
        charges.charge(charge)
    make_plan()

    for path in ("/billing/account", "/billing/card", "/billing/plans", f"/billing/charges/{charge.id}/confirm"):
        html = logged_in_client.get(path).text
        assert OFFLINE_API_KEY not in html
        assert "sk_" not in html
    html = logged_in_client.get("/billing/card").text
    assert 'data-stripe-key="pk_test_offline"' in html
    assert "<script>" not in html  # no inline script: everything is in billing.js


# -- the card page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["payment_method", "token"])
def test_adding_the_first_card_creates_the_customer(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, flow: str
) -> None:
    card = make_payment_method() if flow == "payment_method" else make_token()

    response = post(logged_in_client, "/billing/card", {flow if flow == "token" else "payment_method": card})

    assert response.status_code == 302
    assert response.location == "/billing/account"
    customer = StripeCustomer.get_latest_active_customer_for_user(user)
    assert customer is not None
    assert customer.default_source_data is not None
    assert customer.default_source_data["last4"] == "4242"
    page = logged_in_client.get("/billing/account").text
    assert "Your card ending in 4242 is saved." in page
    assert "•••• 4242" in page
    assert "Default" in page


def test_replacing_the_card_keeps_the_customer_and_makes_the_new_card_default(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    first = customer_with(user)
    new_card = make_payment_method("5555555555554444")

    response = post(
        logged_in_client, "/billing/card?next=/billing/plans", {"payment_method": new_card, "next": "/billing/plans"}
    )

    assert response.status_code == 302
    assert response.location == "/billing/plans"
    db.session.expire_all()
    customer = StripeCustomer.get_latest_active_customer_for_user(user)
    assert customer is not None
    assert customer.id == first.id
    assert customer.default_source == new_card
    assert "Replace your card" in logged_in_client.get("/billing/card").text


def test_a_declined_card_is_shown_next_to_the_card_field(
    app: Flask, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    response = post(logged_in_client, "/billing/card", {"token": make_token(DECLINED_CARD)})

    assert response.status_code == 400
    error = re.search(r'<p id="sb-card-errors" class="sb-field-error" role="alert">([^<]*)</p>', response.text)
    assert error is not None
    assert "declined" in error.group(1).lower()
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None


@pytest.mark.parametrize("data", [{}, {"payment_method": "card_123"}, {"token": "pm_123"}, {"token": "x" * 300}])
def test_bad_card_input_is_refused_before_any_stripe_request(
    app: Flask, logged_in_client: FlaskClient, stripe_http: Any, data: dict[str, str]
) -> None:
    token = csrf_token(logged_in_client)
    stripe_http.clear()

    response = logged_in_client.post("/billing/card", data={"csrf_token": token, **data})

    assert response.status_code == 400
    assert "Enter your card details" in response.text
    assert list(stripe_http.requests) == []


@pytest.mark.parametrize(
    "target", ["//evil.test/x", "https://evil.test/", "javascript:alert(1)", "/\\evil.test", "/x\nLocation: y"]
)
def test_next_never_leaves_the_site(app: Flask, logged_in_client: FlaskClient, target: str) -> None:
    response = post(logged_in_client, "/billing/card", {"payment_method": make_payment_method(), "next": target})
    assert response.location == "/billing/account"


def test_the_token_flow_is_available(app: Flask, logged_in_client: FlaskClient) -> None:
    assert 'data-flow="token"' in logged_in_client.get("/billing/card?flow=token").text
    assert 'data-flow="setup_intent"' in logged_in_client.get("/billing/card?flow=other").text


# -- plans, subscribing, cancelling -----------------------------------------------------------------------------


def test_plans_page_lists_plans_created_at_stripe(app: Flask, db: SQLAlchemy, logged_in_client: FlaskClient) -> None:
    make_plan("Pro", 1500, description="Everything")
    make_plan("Team", 4900, interval_count=3)
    db.session.add(StripeSubscriptionPlan(name="Draft", amount=100, currency="usd"))
    db.session.commit()

    html = logged_in_client.get("/billing/plans").text

    assert "Subscribe to Pro" in html
    assert "$15.00" in html
    assert "/ month" in html
    assert "$49.00" in html
    assert "/ 3 months" in html
    assert "Draft" not in html
    assert 'data-check-url="/billing/api/coupons/__CODE__"' in html


def test_subscribing_to_a_plan(app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient) -> None:
    customer_with(user)
    plan = make_plan()

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)})

    assert response.status_code == 302
    assert response.location == "/billing/account"
    [subscription] = subscriptions_of(db, user)
    assert subscription.status == "active"
    page = logged_in_client.get("/billing/account").text
    assert "Thank you: you are subscribed to Pro." in page
    assert "Renews" in page
    assert "Your plan" in logged_in_client.get("/billing/plans").text


# Subscribing with a coupon and switching plans: tests/test_pages_stub.py (the offline Stripe cannot).


def test_an_unknown_coupon_is_refused_before_subscribing(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user)
    plan = make_plan()

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id), "coupon": "NOPE"})

    assert response.status_code == 400
    assert "The coupon code &#39;NOPE&#39; is not valid." in response.text
    assert 'value="NOPE"' in response.text
    assert subscriptions_of(db, user) == []


@pytest.mark.parametrize(
    "plan_id", ["", "abc", "999999", "²", "-1", "0", "99999999999999999999999", "1" * 5000, "1\x00"]
)
def test_an_unknown_plan_is_refused(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, plan_id: str
) -> None:
    response = post(logged_in_client, "/billing/subscribe", {"plan_id": plan_id})
    assert response.status_code == 400
    assert "Choose one of the plans below." in response.text


def test_subscribing_without_a_card_asks_for_one_first(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    plan = make_plan()

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)})

    assert response.status_code == 302
    assert response.location == "/billing/card?next=/billing/plans"
    assert subscriptions_of(db, user) == []
    assert StripeCustomer.get_latest_active_customer_for_user(user) is None
    # Where the gate sent the subscriber from is kept through the card page and the plans page.
    gated = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id), "next": "/reports"})
    assert gated.location == "/billing/card?next=/billing/plans?next%3D/reports"


def test_subscribing_with_a_card_that_is_declined_shows_the_error(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    plan = make_plan()

    response = post(logged_in_client, "/billing/subscribe", {"plan_id": str(plan.id)}, follow_redirects=True)

    assert "Your subscription to Pro could not be paid for yet; please check your card." in response.text
    live = [s for s in subscriptions_of(db, user) if s.status == "active"]
    assert live == []


def subscribed(db: SQLAlchemy, user: hostapp.User, client: FlaskClient, **plan_fields: Any) -> StripeSubscription:
    customer_with(user)
    plan = make_plan(**plan_fields)
    post(client, "/billing/subscribe", {"plan_id": str(plan.id)})
    [subscription] = subscriptions_of(db, user)
    return subscription


def test_cancelling_states_when_access_ends_then_cancels_at_period_end(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    assert subscription.current_period_end is not None
    url = f"/billing/subscriptions/{subscription.id}/cancel"
    ends = subscription.current_period_end

    confirmation = logged_in_client.get(url).text
    response = post(logged_in_client, url)

    assert "You keep access until" in confirmation
    assert f'data-sb-access-ends="{ends.date().isoformat()}"' in confirmation
    assert response.status_code == 302
    db.session.refresh(subscription)
    assert subscription.status == "canceling"
    account = logged_in_client.get("/billing/account").text
    assert "you keep access until" in account
    assert "Access ends" in account
    assert logged_in_client.get(url).status_code == 302  # nothing left to cancel


@pytest.mark.parametrize(("status", "proration"), [("trialing", False), ("active", True)])
def test_the_confirmation_says_when_cancelling_ends_access_at_once(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient, status: str, proration: bool
) -> None:
    subscription = subscribed(db, user, logged_in_client)
    # The offline Stripe has no trials: the row is put in the state a trial's webhook would leave it in.
    subscription.status = status
    db.session.commit()
    state = get_state(app)
    state.config = dataclasses.replace(state.config, proration_policy=proration)

    page = logged_in_client.get(f"/billing/subscriptions/{subscription.id}/cancel").text

    assert 'data-sb-access-ends="now"' in page
    assert "you lose access at once" in page


# -- paying a charge, confirming a payment ----------------------------------------------------------------------


def test_paying_a_pending_charge(app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient) -> None:
    customer_with(user)
    charge = new_charge(db, user, amount=2599)
    url = f"/billing/charges/{charge.id}/pay"

    page = logged_in_client.get(url).text
    response = post(logged_in_client, url)

    assert "$25.99" in page
    assert "Pay $25.99" in page
    assert "•••• 4242" in page
    assert response.status_code == 302
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.SUCCEEDED
    assert "Paid" in logged_in_client.get(url).text
    assert post(logged_in_client, url).status_code == 302  # paying twice changes nothing
    db.session.refresh(charge)
    assert charge.attempts == 1


def test_a_declined_payment_is_shown_next_to_the_card(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    customer_with(user, DECLINED_ON_CHARGE)
    charge = new_charge(db, user)

    response = post(logged_in_client, f"/billing/charges/{charge.id}/pay")

    assert response.status_code == 400
    assert re.search(r'id="sb-card-errors"[^>]*>[^<]*declined', response.text, re.IGNORECASE)
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.FAILED


def test_paying_without_a_card_asks_for_one(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    charge = new_charge(db, user, description="Order 42")
    url = f"/billing/charges/{charge.id}/pay"
    page = logged_in_client.get(url).text

    assert "Order 42" in page
    assert "Add a card" in page
    response = post(logged_in_client, url)

    assert response.location == f"/billing/card?next={urllib.parse.quote(url)}"


def authenticate(offline_stripe: OfflineStripe, charge: StripeCharge, *, success: bool) -> None:
    """What Stripe.js does when the customer passes (or fails) 3-D Secure in its modal."""
    assert charge.stripe_payment_intent_id
    request = urllib.request.Request(  # noqa: S310 - the local offline Stripe
        f"{offline_stripe.url}/v1/payment_intents/{charge.stripe_payment_intent_id}/_authenticate"
        f"?success={'true' if success else 'false'}",
        data=urllib.parse.urlencode(
            {"key": "pk_test_offline", "client_secret": charge.payment_intent_client_secret}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


@pytest.mark.parametrize("success", [True, False])
def test_a_payment_that_needs_authentication_goes_through_the_confirm_page(
    app: Flask,
    db: SQLAlchemy,
    user: hostapp.User,
    logged_in_client: FlaskClient,
    offline_stripe: OfflineStripe,
    success: bool,
) -> None:
    customer_with(user, SCA_CARD)
    charge = new_charge(db, user, amount=4200)
    pay_url, confirm_url = f"/billing/charges/{charge.id}/pay", f"/billing/charges/{charge.id}/confirm"

    response = post(logged_in_client, pay_url)
    assert response.location == confirm_url
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.REQUIRES_ACTION
    page = logged_in_client.get(confirm_url).text
    assert f'data-client-secret="{charge.payment_intent_client_secret}"' in page
    assert "$42.00" in page
    assert post(logged_in_client, confirm_url).location == confirm_url  # not authenticated yet

    authenticate(offline_stripe, charge, success=success)
    response = post(logged_in_client, confirm_url)

    assert response.location == pay_url
    db.session.refresh(charge)
    assert charge.status == (ChargeStatus.SUCCEEDED if success else ChargeStatus.FAILED)
    assert logged_in_client.get(confirm_url).location == pay_url  # nothing left to confirm


def test_confirming_a_charge_never_sent_to_stripe_goes_back_to_its_page(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    charge = new_charge(db, user, amount=4200)
    response = post(logged_in_client, f"/billing/charges/{charge.id}/confirm")
    assert response.status_code == 302
    assert response.location == f"/billing/charges/{charge.id}/pay"


# -- the account page -------------------------------------------------------------------------------------------


def test_the_account_page_shows_cards_subscriptions_and_charges_with_refunds(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    subscribed(db, user, logged_in_client)
    paid = new_charge(db, user, amount=3000)
    charges.charge(paid)
    refunds.refund(paid, 1000)
    new_charge(db, user, amount=700, description="Extra seat")
    eve = other_user(db)
    new_charge(db, eve, amount=999, description="Not yours")

    html = logged_in_client.get("/billing/account").text

    assert "•••• 4242" in html
    assert "Pro" in html
    assert "Active" in html
    assert "$30.00" in html
    assert "Refund of $10.00" in html
    assert "$10.00 refunded" in html
    assert "Extra seat" in html
    assert "Due" in html
    assert "Not yours" not in html


def test_an_empty_account(app: Flask, logged_in_client: FlaskClient) -> None:
    html = logged_in_client.get("/billing/account").text
    assert "No card saved yet." in html
    assert "No subscription." in html
    assert "No payments yet." in html


# -- hosts: templates, prefix, Flask-WTF ------------------------------------------------------------------------


def test_a_host_overrides_a_template_by_placing_a_file_at_the_same_path(
    app: Flask, logged_in_client: FlaskClient, tmp_path: Any
) -> None:
    folder = tmp_path / "templates" / "stripe_billing"
    folder.mkdir(parents=True)
    (folder / "base.html").write_text("<html><body>HOST LAYOUT {% block content %}{% endblock %}</body></html>")
    app.template_folder = str(tmp_path / "templates")

    html = logged_in_client.get("/billing/account").text

    assert html.startswith("<html><body>HOST LAYOUT")
    assert "Your billing account" in html


def test_the_pages_can_be_mounted_at_another_prefix(
    database_url: str, stripe_config: dict[str, Any], stripe_http: Any
) -> None:
    from tests.conftest import running_app

    config = {**stripe_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_URL_PREFIX": "/money"}
    with running_app(config, http_client=stripe_http) as application:
        account = hostapp.User(email="ada@example.com")
        hostapp.db.session.add(account)
        hostapp.db.session.commit()
        client = application.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(account.id)

        html = client.get("/money/account").text

        assert "/money/plans" in html
        assert "/money/static/stripe_billing/billing.css" in html
        assert client.get("/billing/account").status_code == 404


def test_with_flask_wtf_csrf_protect_its_token_is_used(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    token = csrf_token(logged_in_client)
    with logged_in_client.session_transaction() as session:
        assert "csrf_token" in session  # Flask-WTF's, not ours
        assert "_stripe_billing_csrf" not in session

    refused = logged_in_client.post("/billing/card", data={"payment_method": make_payment_method()})
    accepted = logged_in_client.post(
        "/billing/card", data={"csrf_token": token, "payment_method": make_payment_method()}
    )
    api_with_header = logged_in_client.post("/billing/api/setup-intents", json={}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400
    assert accepted.status_code == 302
    assert api_with_header.status_code == 201  # what the card page's script sends


def test_with_flask_wtf_the_webhook_route_stays_reachable(app: Flask, client: FlaskClient) -> None:
    from flask_wtf.csrf import CSRFProtect

    from flask_stripe_billing.testing import send_webhook

    CSRFProtect(app)

    response = send_webhook(client, "customer.created", {"id": "cus_x", "object": "customer", "email": "a@b.c"})

    assert response.status_code == 200


def test_with_flask_wtf_disabled_by_the_host_forms_need_no_token(
    app: Flask, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    app.config["WTF_CSRF_ENABLED"] = False

    response = logged_in_client.post("/billing/card", data={"payment_method": make_payment_method()})

    assert response.status_code == 302


# -- formatting -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1999, "usd", "$19.99"),
        (123456789, "usd", "$1,234,567.89"),
        (5, "eur", "€0.05"),
        (500, "jpy", "¥500"),
        (500, "JPY", "¥500"),
        (1999, "pln", "19.99 PLN"),
        (7000, "krw", "7,000 KRW"),
        (-250, "gbp", "-£2.50"),
        (None, "usd", ""),
    ],
)
def test_money_is_shown_in_major_units(amount: int | None, currency: str, expected: str) -> None:
    assert formatting.money(amount, currency) == expected

"""The example app: sign-up and log-in, the pricing page, the premium area behind the gate, a one-off purchase
sent to the payment page, the admin page, against the offline Stripe."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from example_app import create_app
from example_app.models import User, db
from example_app.seed import ADMIN_USER, DEMO_USER, WELCOME_COUPON
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import (
    StripeCharge,
    StripeCoupon,
    StripeSubscription,
    StripeSubscriptionPlan,
    StripeWebhook,
)
from flask_stripe_billing.offline import AppServer
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_card
from tests.factories.cards import GOOD_CARD


def csrf_token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def log_in(client: FlaskClient, email: str, password: str) -> Any:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_seeds_plans_at_stripe_and_shows_them(demo: Flask, stripe_test_config: dict[str, Any]) -> None:
    with demo.app_context():
        plans = db.session.scalars(sa.select(StripeSubscriptionPlan)).all()
        assert {plan.name for plan in plans} == {"Starter", "Pro", "Pro yearly"}
        assert all(plan.is_created_at_stripe for plan in plans)
    page = demo.test_client().get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "$290.00" in text
    assert stripe_test_config["STRIPE_API_KEY"] not in text


def test_log_in_with_the_demo_user_and_see_the_pricing_page(demo: Flask) -> None:
    client = demo.test_client()
    assert "Wrong e-mail" in log_in(client, DEMO_USER[0], "nope").get_data(as_text=True)
    response = log_in(client, *DEMO_USER)
    assert response.status_code == 302
    pricing = client.get("/billing/plans")
    assert pricing.status_code == 200
    assert "Pro yearly" in pricing.get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.test/", "/\\evil.test/", "/\t/evil.test/", "https://evil.test/"])
def test_log_in_never_redirects_off_site(demo: Flask, target: str) -> None:
    client = demo.test_client()
    token = csrf_token(client, "/login")
    form = {"email": DEMO_USER[0], "password": DEMO_USER[1], "csrf_token": token}
    response = client.post("/login", query_string={"next": target}, data=form)
    assert response.headers["Location"] == "/"


def test_log_in_follows_a_local_next(demo: Flask) -> None:
    client = demo.test_client()
    token = csrf_token(client, "/login")
    form = {"email": DEMO_USER[0], "password": DEMO_USER[1], "csrf_token": token}
    response = client.post("/login", query_string={"next": "/shop"}, data=form)
    assert response.headers["Location"] == "/shop"


def test_forms_need_the_csrf_token(demo: Flask) -> None:
    response = demo.test_client().post("/login", data={"email": DEMO_USER[0], "password": DEMO_USER[1]})
    assert response.status_code == 400


def test_sign_up_then_the_gate_sends_a_non_payer_to_pricing(demo: Flask) -> None:
    client = demo.test_client()
    anonymous = client.get("/premium")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    token = csrf_token(client, "/signup")
    form = {"email": "new@example.com", "password": "long-enough", "csrf_token": token}
    signed_up = client.post("/signup", data=form)
    assert signed_up.status_code == 302
    with demo.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "new@example.com")) is not None
    gated = client.get("/premium")
    assert gated.status_code == 302
    assert "/billing/plans" in gated.headers["Location"]


def test_a_subscriber_reaches_the_premium_area(demo: Flask) -> None:
    with demo.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == DEMO_USER[0]))
        card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
        token = get_state().gateway.request("post", "/v1/tokens", {"card": card}, object_type="token", action="create")
        create_customer(user, token["id"])
        starter = db.session.scalar(sa.select(StripeSubscriptionPlan).where(StripeSubscriptionPlan.name == "Starter"))
        user.subscribe(starter)
        assert user.subscribed()
    client = demo.test_client()
    log_in(client, *DEMO_USER)
    page = client.get("/premium")
    assert page.status_code == 200
    assert "on the Starter plan" in page.get_data(as_text=True)


def test_buying_the_report_creates_a_charge_and_sends_to_the_payment_page(demo: Flask) -> None:
    client = demo.test_client()
    log_in(client, *DEMO_USER)
    response = client.post("/shop", data={"csrf_token": csrf_token(client, "/shop")})
    with demo.app_context():
        charge = db.session.scalars(sa.select(StripeCharge)).one()
        assert (charge.amount, charge.currency, charge.is_manual_charge) == (4900, "usd", True)
    assert response.headers["Location"].endswith(f"/billing/charges/{charge.id}/pay")
    assert client.get(response.headers["Location"]).status_code == 200


def test_admin_page_is_for_admins_only(demo: Flask) -> None:
    with demo.app_context():
        db.session.add(StripeWebhook(id="evt_demo_1", type="customer.updated", raw_data={}))
        db.session.commit()
    client = demo.test_client()
    log_in(client, *DEMO_USER)
    assert client.get("/admin").status_code == 403
    client = demo.test_client()
    log_in(client, *ADMIN_USER)
    page = client.get("/admin")
    assert page.status_code == 200
    assert "evt_demo_1" in page.get_data(as_text=True)


# -- the demo's journey in a real browser -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: browser test skipped")
def test_subscribing_with_a_card_opens_the_premium_area(demo: Flask, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
    with AppServer(demo) as server, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(base_url=server.url)
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto("/login")
            page.fill("#email", DEMO_USER[0])
            page.fill("#password", DEMO_USER[1])
            page.get_by_role("button", name="Log in").click()
            page.goto("/premium")
            page.wait_for_url("**/billing/plans**")
            assert page.get_by_text("Acme Analytics").first.is_visible()  # the billing pages in the site's layout
            page.get_by_role("button", name="Subscribe to Starter").click()
            page.wait_for_url("**/billing/card**")
            fill_card(page, GOOD_CARD)
            page.get_by_role("button", name="Save card").click()
            # Back to the plans, still headed for /premium.
            page.wait_for_url(lambda url: "/billing/plans" in url and "premium" in url)
            page.get_by_role("button", name="Subscribe to Starter").click()
            page.wait_for_url("**/premium")  # where the gate had stopped the subscriber
            assert page.get_by_text("on the Starter plan").is_visible()
            page.screenshot(path=str(tmp_path / "premium.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []


# -- what a customer sees: coupon, error pages, flashes, forms, icon, admin ---------------------------------------


def test_the_welcome_coupon_is_seeded_once_and_offered_on_the_home_page(
    demo: Flask, stripe_test_config: dict[str, Any], tmp_path: Path
) -> None:
    create_app({**stripe_test_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.sqlite'}"})  # a restart
    with demo.app_context():
        rows = db.session.scalars(sa.select(StripeCoupon)).all()
        assert [(row.coupon_id, row.is_created_at_stripe, row.percent_off) for row in rows] == [
            (WELCOME_COUPON["coupon_id"], True, WELCOME_COUPON["percent_off"])
        ]
        at_stripe = get_state().gateway.request("get", f"/v1/coupons/{WELCOME_COUPON['coupon_id']}")
        assert at_stripe["percent_off"] == 10
    assert WELCOME_COUPON["coupon_id"] in demo.test_client().get("/").get_data(as_text=True)


def test_a_new_database_beside_a_kept_stripe_finds_the_coupon_there(
    demo: Flask, stripe_test_config: dict[str, Any], tmp_path: Path
) -> None:
    fresh = create_app({**stripe_test_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.sqlite'}"})
    with fresh.app_context():
        coupon = db.session.scalars(sa.select(StripeCoupon)).one()
        assert (coupon.coupon_id, coupon.is_created_at_stripe) == (WELCOME_COUPON["coupon_id"], True)
        db.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "status", "heading"),
    [("GET", "/no-such-page", 404, "Page not found"), ("GET", "/logout", 405, "Something went wrong")],
)
def test_errors_are_the_sites_own_pages(demo: Flask, method: str, path: str, status: int, heading: str) -> None:
    response = demo.test_client().open(path, method=method)
    text = response.get_data(as_text=True)
    assert response.status_code == status
    assert f"<title>{heading} — Acme Analytics</title>" in text
    assert f"<h1>{heading}</h1>" in text
    assert 'rel="icon"' in text


def test_a_caller_asking_for_json_gets_no_html_error_page(demo: Flask) -> None:
    response = demo.test_client().get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert "Acme Analytics" not in response.get_data(as_text=True)


def test_forbidden_and_expired_forms_are_explained(demo: Flask) -> None:
    client = demo.test_client()
    log_in(client, *DEMO_USER)
    forbidden = client.get("/admin")
    assert forbidden.status_code == 403
    assert "<h1>Access denied</h1>" in forbidden.get_data(as_text=True)
    expired = client.post("/shop", data={"csrf_token": "stale"})
    assert expired.status_code == 400
    assert "Reload the page" in expired.get_data(as_text=True)


def test_a_refused_sign_up_keeps_the_email_and_says_why_as_an_error(demo: Flask) -> None:
    client = demo.test_client()
    form = {"email": DEMO_USER[0], "password": "long-enough", "csrf_token": csrf_token(client, "/signup")}
    response = client.post("/signup", data=form)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'value="{DEMO_USER[0]}"' in text
    assert re.search(r'class="flash flash-error"[^>]*>An account with this e-mail address exists', text)


def test_a_wrong_password_keeps_the_email(demo: Flask) -> None:
    response = log_in(demo.test_client(), ADMIN_USER[0], "wrong-password")
    assert response.status_code == 400
    assert f'value="{ADMIN_USER[0]}"' in response.get_data(as_text=True)


def test_flashes_are_styled_by_category_on_the_billing_pages(demo: Flask) -> None:
    client = demo.test_client()
    client.post(
        "/signup",
        data={"email": "new@example.com", "password": "long-enough", "csrf_token": csrf_token(client, "/signup")},
    )
    pricing = client.get("/billing/plans").get_data(as_text=True)
    assert re.search(r'class="flash flash-success" role="status">Welcome', pricing)
    assert "<title>Plans — Acme Analytics</title>" in pricing
    client.get("/premium")  # the gate sends a non-subscriber to the plans, saying why
    assert re.search(
        r'class="flash flash-info" role="status">[^<]+plan', client.get("/billing/plans").get_data(as_text=True)
    )


def test_the_site_has_an_icon(demo: Flask) -> None:
    response = demo.test_client().get("/favicon.ico")
    assert (response.status_code, response.mimetype) == (200, "image/svg+xml")


def test_the_admin_page_lists_every_subscription_with_times_in_utc(demo: Flask) -> None:
    with demo.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == DEMO_USER[0]))
        starter = db.session.scalar(sa.select(StripeSubscriptionPlan).where(StripeSubscriptionPlan.name == "Starter"))
        db.session.add(
            StripeSubscription(
                subscriber=user, plan=starter, status="incomplete", created_at=dt.datetime(2027, 3, 3, 14, 5, 9)
            )
        )
        db.session.commit()
    client = demo.test_client()
    log_in(client, *ADMIN_USER)
    page = client.get("/admin").get_data(as_text=True)
    section = page[page.index('id="subscriptions"') :]
    assert DEMO_USER[0] in section
    assert "incomplete" in section
    assert "2027-03-03 14:05:09 UTC" in section
    assert "<title>Admin — Acme Analytics</title>" in page

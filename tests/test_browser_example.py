"""The example app walked through in a real browser, the way a new customer meets it: the home page, a 404,
sign-up (with a mistake first), the pricing page, the card page, the premium area, the shop and its payment
page, a 403, and the admin page.

Every page is screenshotted (``SCREENSHOTS_DIR``, by default the test's ``tmp_path``) and checked for what a
customer notices: the site's name in the title, flashes styled by their category, no failed request (the
favicon included), no JavaScript error, nothing wider than the window.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask import Flask

from example_app.models import db
from example_app.seed import ADMIN_USER, DEMO_USER, WELCOME_COUPON
from flask_stripe_billing.models import StripeCharge
from tests.browser import CHROMIUM, Walk, fill_card
from tests.factories.cards import GOOD_CARD

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: browser test skipped"),
    pytest.mark.slow,
]

SITE = "Acme Analytics"


def test_a_new_customer_walks_through_the_example_app(walk: Walk, demo: Flask) -> None:
    page = walk.page
    page.goto("/")
    assert page.title() == SITE
    assert page.get_by_text("$9.00").first.is_visible()
    assert page.get_by_text(WELCOME_COUPON["coupon_id"]).is_visible()
    walk.shoot("home")

    page.goto("/no-such-page")
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.title() == f"Page not found — {SITE}"
    walk.shoot("404")
    walk.expect_failures(404)

    page.goto("/signup")
    page.fill("#email", DEMO_USER[0])
    page.fill("#password", "long-enough-password")
    page.get_by_role("button", name="Sign up").click()
    walk.flash("error", "An account with this e-mail address exists")
    assert page.input_value("#email") == DEMO_USER[0]  # kept after the server's refusal
    walk.shoot("signup-refused")
    walk.expect_failures(400)
    page.fill("#email", "new@example.com")
    page.fill("#password", "long-enough-password")
    page.get_by_role("button", name="Sign up").click()

    page.wait_for_url("**/billing/plans")
    walk.flash("success", "Welcome")
    assert page.title() == f"Plans — {SITE}"
    walk.shoot("pricing")
    page.get_by_role("button", name="Subscribe to Starter").click()

    page.wait_for_url("**/billing/card**")
    walk.flash("info", "Add a card first")
    assert page.title() == f"Add a card — {SITE}"
    walk.shoot("card")
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Save card").click()

    page.wait_for_url("**/billing/plans**")
    walk.flash("success", "Your card ending in 4242 is saved.")
    walk.shoot("pricing-with-card")
    page.get_by_role("button", name="Subscribe to Starter").click()

    page.wait_for_url("**/billing/account")
    walk.flash("success", "you are subscribed to Starter")
    walk.shoot("account")
    page.goto("/premium")
    assert page.get_by_text("on the Starter plan").is_visible()
    assert "subscription_required" not in page.content()
    walk.shoot("premium")

    page.goto("/shop")
    assert page.get_by_text("$49.00").is_visible()
    walk.shoot("shop")
    page.get_by_role("button", name="Buy and pay").click()
    page.wait_for_url("**/billing/charges/*/pay")
    assert page.title() == f"Payment of $49.00 — {SITE}"
    walk.shoot("pay")
    page.get_by_role("button", name="Pay $49.00").click()
    walk.flash("success", "Thank you: your payment went through.")
    walk.shoot("paid")
    with demo.app_context():
        assert db.session.scalars(sa.select(StripeCharge.status)).one() == "succeeded"

    page.goto("/admin")
    assert page.get_by_role("heading", name="Access denied").is_visible()
    walk.shoot("403")
    walk.expect_failures(403)

    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    page.fill("#email", ADMIN_USER[0])
    page.fill("#password", "wrong-password")
    page.get_by_role("button", name="Log in").click()
    walk.flash("error", "Wrong e-mail address or password.")
    assert page.input_value("#email") == ADMIN_USER[0]
    walk.expect_failures(400)
    page.fill("#password", ADMIN_USER[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto("/admin")
    assert page.title() == f"Admin — {SITE}"
    assert page.get_by_text("UTC").first.is_visible()
    assert page.locator("#subscriptions").get_by_text("new@example.com").is_visible()
    walk.shoot("admin")

"""The example app walked through in a real browser, the way a new customer meets it: the home page, a 404,
sign-up (with a mistake first), the pricing page, the card page, the premium area, the shop and its payment
page, a 403, and the admin page.

Every page is screenshotted (``SCREENSHOTS_DIR``, by default the test's ``tmp_path``) and checked for what a
customer notices: the site's name in the title, flashes styled by their category, no failed request (the
favicon included), no JavaScript error, nothing wider than the window.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from example_app.models import db
from example_app.seed import ADMIN_USER, DEMO_USER, WELCOME_COUPON
from flask_stripe_billing.models import StripeCharge
from flask_stripe_billing.offline import AppServer
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_card
from tests.factories.cards import GOOD_CARD

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: browser test skipped"),
    pytest.mark.slow,
]

SITE = "Acme Analytics"


class Walk:
    """A browser tab on the served example app that records failed requests and script errors, and numbers
    its screenshots in the order taken."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def shoot(self, name: str) -> None:
        """Screenshot the whole page, after checking it does not scroll sideways."""
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"

    def flash(self, category: str, text: str) -> None:
        """Wait for a flash of *category* saying *text*."""
        self.page.locator(f".flash-{category}", has_text=text).wait_for()

    def expect_failures(self, *statuses: int) -> None:
        """The requests that failed since the last check had exactly these statuses (the pages asked for)."""
        assert [int(line.split()[0]) for line in self.failed] == list(statuses), self.failed
        self.failed.clear()


@pytest.fixture
def walk(demo: Flask, tmp_path: Path) -> Any:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with AppServer(demo) as server, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800}, base_url=server.url)
            context.set_default_timeout(15_000)
            tour = Walk(context.new_page(), folder)
            yield tour
            assert tour.errors == []
            assert tour.failed == []
        finally:
            browser.close()


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

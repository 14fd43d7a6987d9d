"""The example app's default way to pay, walked in a real browser: subscribing through Stripe Checkout (with a
3-D Secure card), then managing the subscription in the Customer Portal (a cancellation, then a resume) — both
hosted by the offline Stripe, their changes mirrored through its webhooks.

Screenshots go to ``SCREENSHOTS_DIR`` (by default the test's ``tmp_path``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from example_app.models import User, db
from example_app.seed import DEMO_USER
from flask_stripe_billing.models import StripeCustomer, StripeSubscription
from flask_stripe_billing.offline import OfflineStripe
from flask_stripe_billing.testing import TEST_WEBHOOK_SECRET
from tests.browser import CHROMIUM, Walk, fill_card
from tests.factories.cards import SCA_CARD

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: browser test skipped"),
    pytest.mark.slow,
]


@pytest.fixture
def demo_config() -> dict[str, Any]:
    """The example app as it ships: Checkout and the Portal."""
    return {}


def eventually(demo: Flask, read: Callable[[], Any], what: str) -> Any:
    """Wait (up to 15 s) for *read* to return something true, in a fresh application context: a webhook
    delivered by the offline Stripe arrives on its own schedule."""
    deadline = time.monotonic() + 15
    while True:
        with demo.app_context():
            value = read()
            db.session.remove()
        if value or time.monotonic() > deadline:
            assert value, f"still waiting for {what}"
            return value
        time.sleep(0.2)


def the_subscription(demo: Flask) -> StripeSubscription | None:
    user = db.session.scalar(sa.select(User).where(User.email == DEMO_USER[0]))
    return db.session.scalar(sa.select(StripeSubscription).where(StripeSubscription.subscriber_id == user.id))


def test_checkout_with_3d_secure_then_cancel_and_resume_in_the_portal(
    walk: Walk, demo: Flask, offline_stripe: OfflineStripe
) -> None:
    offline_stripe.register_webhook("example-app", f"{walk.url}/billing/webhooks", TEST_WEBHOOK_SECRET)
    page = walk.page
    page.goto("/login")
    page.fill("#email", DEMO_USER[0])
    page.fill("#password", DEMO_USER[1])
    page.get_by_role("button", name="Log in").click()
    page.goto("/billing/plans")
    walk.shoot("plans")
    page.get_by_role("button", name="Subscribe to Starter").click()

    page.wait_for_url("**/checkout/pay/**")
    assert page.get_by_text("Starter").first.is_visible()
    assert page.get_by_text("$9.00").first.is_visible()
    walk.shoot("checkout")
    fill_card(page, SCA_CARD, within=".sb-card")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("button", name="Complete authentication").click()

    page.wait_for_url("**/billing/account**")
    walk.flash("success", "Starter")
    walk.shoot("account-after-checkout")
    subscription = eventually(demo, lambda: the_subscription(demo), "the subscription")
    assert subscription.status == "active"
    with demo.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeCustomer)) == 1

    page.get_by_role("button", name="Manage billing").click()
    page.wait_for_url("**/portal/**")
    assert page.get_by_text("Starter").first.is_visible()
    walk.shoot("portal")
    page.get_by_role("button", name="Cancel plan").click()
    page.get_by_text("Your plan will be canceled on").wait_for()
    walk.shoot("portal-canceled")
    eventually(demo, lambda: getattr(the_subscription(demo), "at_period_end", False), "the cancellation")

    page.get_by_role("button", name="Renew plan").click()
    page.get_by_text("Renews on").wait_for()
    eventually(demo, lambda: not getattr(the_subscription(demo), "at_period_end", True), "the resume")
    page.locator("a.sb-back").click()
    page.wait_for_url("**/billing/account**")
    walk.shoot("account-after-portal")

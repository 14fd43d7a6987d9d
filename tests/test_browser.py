"""The billing pages in a real browser: Chromium driven by Playwright, the app served on a local port, and the
offline Stripe's stand-in for Stripe.js (card element, ``confirmCardSetup``, ``createToken``, the 3-D Secure
modal of ``confirmCardPayment``).

Run on SQLite only: the pages issue the same queries the test-client tests (``test_pages.py``) already run on
PostgreSQL, so a second database would only double the time.  A screenshot of every page is saved in each
test's ``tmp_path``.  Skipped, with the reason shown, when Playwright or Chromium is missing (``.ci/run``
installs Debian's ``chromium``; browsers are never downloaded).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_login import login_user
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import coupons, plans
from flask_stripe_billing.models import ChargeStatus, StripeCustomer, StripeSubscription, StripeSubscriptionPlan
from tests import hostapp
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_card
from tests.factories.cards import DECLINED_CARD, GOOD_CARD, SCA_CARD
from tests.factories.charges import customer_with, new_charge

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser tests skipped")
pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: browser tests skipped (apt-get install chromium)"
    ),
    pytest.mark.slow,
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, for the reason in the module's docstring."""
    return f"sqlite:///{tmp_path / 'browser.sqlite'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the whole module."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def login_route(app: Flask) -> None:
    """A route that logs a user in (what the host's login page would do), added before anything is served."""

    def log_in(user_id: int) -> str:
        login_user(hostapp.db.session.get(hostapp.User, user_id))
        return "logged in"

    app.add_url_rule("/test-login/<int:user_id>", "test_login", log_in)


class Shooter:
    """Screenshots, numbered in the order taken, in the test's output directory."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0

    def __call__(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, login_route: None, user: hostapp.User, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A logged-in page in a fresh browser context; JavaScript errors fail the test."""
    context = browser.new_context(viewport=DESKTOP, base_url=request.getfixturevalue("served"))
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"/test-login/{user.id}")
    try:
        yield tab
    finally:
        context.close()
    assert errors == []


@pytest.fixture
def shoot(page: Any, tmp_path: Path) -> Shooter:
    return Shooter(page, tmp_path)


def saved_customer(db: SQLAlchemy, user: hostapp.User) -> StripeCustomer | None:
    db.session.expire_all()
    return StripeCustomer.get_latest_active_customer_for_user(user)


def test_add_a_card(page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User) -> None:
    page.goto("/billing/card")
    fill_card(page, GOOD_CARD)
    shoot("card-filled")
    page.get_by_role("button", name="Save card").click()

    page.wait_for_url("**/billing/account")
    assert page.get_by_text("Your card ending in 4242 is saved.").is_visible()
    assert page.locator("#sb-cards").get_by_text("•••• 4242").is_visible()
    shoot("account-with-card")
    customer = saved_customer(db, user)
    assert customer is not None
    assert customer.default_source is not None
    assert customer.default_source.startswith("pm_")


def test_add_a_card_with_the_token_flow(page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User) -> None:
    page.goto("/billing/card?flow=token")
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Save card").click()

    page.wait_for_url("**/billing/account")
    shoot("account-after-token")
    customer = saved_customer(db, user)
    assert customer is not None
    assert customer.default_source is not None
    assert not customer.default_source.startswith("pm_")  # a card saved from a token


def test_a_declined_card_shows_the_error_next_to_the_card_field(
    page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User
) -> None:
    page.goto("/billing/card")
    fill_card(page, DECLINED_CARD)
    page.get_by_role("button", name="Save card").click()

    error = page.locator(".sb-field:has(#sb-card-element) #sb-card-errors")
    error.wait_for(state="visible")
    assert "declined" in error.inner_text().lower()
    assert page.url.endswith("/billing/card")
    assert page.get_by_role("button", name="Save card").is_enabled()  # the customer can try another card
    shoot("card-declined")
    assert saved_customer(db, user) is None


def test_a_card_needing_3d_secure_is_saved_through_the_authentication_modal(
    page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User
) -> None:
    page.goto("/billing/card")
    fill_card(page, SCA_CARD)
    page.get_by_role("button", name="Save card").click()

    page.get_by_role("button", name="Complete authentication").wait_for()
    shoot("card-3d-secure-modal")
    page.get_by_role("button", name="Complete authentication").click()

    page.wait_for_url("**/billing/account")
    assert page.get_by_text("Your card ending in 3184 is saved.").is_visible()
    customer = saved_customer(db, user)
    assert customer is not None
    assert customer.default_source_data is not None
    assert customer.default_source_data["last4"] == "3184"


@pytest.mark.parametrize("passes", [True, False], ids=["authenticated", "refused"])
def test_a_payment_needing_3d_secure_goes_through_the_confirm_page(
    page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User, passes: bool
) -> None:
    customer_with(user, SCA_CARD)
    charge = new_charge(db, user, amount=4200)

    page.goto(f"/billing/charges/{charge.id}/pay")
    page.get_by_role("button", name="Pay $42.00").click()
    page.wait_for_url(f"**/billing/charges/{charge.id}/confirm")
    shoot("confirm-payment")
    page.get_by_role("button", name="Confirm payment").click()
    choice = page.get_by_role("button", name="Complete authentication" if passes else "Fail authentication")
    choice.wait_for()
    shoot("confirm-payment-modal")
    choice.click()

    page.wait_for_url(f"**/billing/charges/{charge.id}/pay")
    if passes:
        page.get_by_text("your payment is authenticated and went through").wait_for()
    else:
        page.get_by_text("The payment was not authenticated, so it was not taken.").wait_for()
        assert page.get_by_text("The last attempt failed").is_visible()
    shoot("payment-outcome")
    db.session.refresh(charge)
    assert charge.status == (ChargeStatus.SUCCEEDED if passes else ChargeStatus.FAILED)


def test_pay_a_pending_charge(page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    charge = new_charge(db, user, amount=2599)

    page.goto(f"/billing/charges/{charge.id}/pay")
    shoot("pay-charge")
    page.get_by_role("button", name="Pay $25.99").click()

    page.get_by_text("Thank you: your payment went through.").wait_for()
    shoot("charge-paid")
    db.session.refresh(charge)
    assert charge.status == ChargeStatus.SUCCEEDED


def make_plan(db: SQLAlchemy, name: str, amount: int, **fields: Any) -> StripeSubscriptionPlan:
    plan = StripeSubscriptionPlan(name=name, amount=amount, currency="usd", **fields)
    db.session.add(plan)
    db.session.commit()
    plans.create_plan(plan)
    return plan


def test_subscribe_to_a_plan_then_cancel(page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    make_plan(db, "Starter", 900, description="For one person")
    make_plan(db, "Team", 4900, description="Up to ten people")
    coupons.create_coupon(coupon_id="SAVE20", percent_off=20, duration="forever")

    page.goto("/billing/plans")
    coupon = page.locator("#sb-coupon-code")
    coupon.fill("NOPE")
    page.get_by_role("button", name="Check").click()
    page.get_by_text("This coupon code is not valid.").wait_for()
    shoot("plans-coupon-refused")
    coupon.fill("SAVE20")
    page.get_by_role("button", name="Check").click()
    page.get_by_text("20% off for as long as you subscribe.").wait_for()
    shoot("plans-coupon-accepted")
    page.get_by_role("button", name="Subscribe to Team").click()

    page.wait_for_url("**/billing/account")
    assert page.get_by_text("Thank you: you are subscribed to Team.").is_visible()
    shoot("account-subscribed")
    db.session.expire_all()
    [subscription] = db.session.scalars(sa.select(StripeSubscription)).all()
    assert subscription.status == "active"
    assert subscription.coupon is not None
    assert subscription.coupon.coupon_id == "SAVE20"

    page.locator("#sb-subscriptions").get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"**/billing/subscriptions/{subscription.id}/cancel")
    assert page.get_by_text("You keep access until").is_visible()
    shoot("cancel-confirmation")
    page.get_by_role("button", name="Cancel subscription").click()

    page.wait_for_url("**/billing/account")
    assert page.get_by_text("you keep access until").is_visible()
    assert page.locator("#sb-subscriptions").get_by_text("Canceling").is_visible()
    shoot("account-canceling")
    db.session.refresh(subscription)
    assert subscription.status == "canceling"


@pytest.mark.parametrize("passes", [True, False], ids=["authenticated", "refused"])
def test_a_subscription_needing_3d_secure_goes_through_the_confirm_page(
    page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User, passes: bool
) -> None:
    customer_with(user, SCA_CARD)
    make_plan(db, "Starter", 900)

    page.goto("/billing/plans")
    page.get_by_role("button", name="Subscribe to Starter").click()
    [subscription] = db.session.scalars(sa.select(StripeSubscription)).all()
    page.wait_for_url(f"**/billing/subscriptions/{subscription.id}/confirm")
    assert page.get_by_text("$9.00").is_visible()
    shoot("subscription-confirm")
    # Subscribing again while it waits sends the customer back here; it never makes a second subscription.
    page.goto("/billing/plans")
    page.get_by_role("button", name="Subscribe to Starter").click()
    page.wait_for_url(f"**/billing/subscriptions/{subscription.id}/confirm")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 1

    page.get_by_role("button", name="Confirm payment").click()
    choice = page.get_by_role("button", name="Complete authentication" if passes else "Fail authentication")
    choice.wait_for()
    choice.click()
    page.wait_for_url("**/billing/account")
    db.session.refresh(subscription)
    if passes:
        page.get_by_text("Thank you: you are subscribed to Starter.").wait_for()
        assert page.locator("#sb-subscriptions").get_by_text("Active").is_visible()
        assert subscription.status == "active"
    else:
        page.get_by_text("Your bank did not confirm the payment, so you are not subscribed to Starter.").wait_for()
        assert subscription.status != "active"
    shoot("subscription-outcome")


def test_an_incomplete_subscription_can_be_confirmed_later_or_canceled(
    page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User
) -> None:
    customer_with(user, SCA_CARD)
    make_plan(db, "Starter", 900)
    page.goto("/billing/plans")
    page.get_by_role("button", name="Subscribe to Starter").click()
    page.get_by_role("link", name="Not now").click()
    page.wait_for_url("**/billing/account")
    table = page.locator("#sb-subscriptions")
    assert table.get_by_text("Incomplete").is_visible()
    assert table.get_by_role("link", name="Confirm payment").is_visible()
    shoot("account-incomplete")
    table.get_by_role("link", name="Cancel").click()
    page.get_by_text("nothing has been taken").wait_for()
    shoot("cancel-incomplete")
    page.get_by_role("button", name="Cancel subscription").click()
    page.wait_for_url("**/billing/account")
    [subscription] = db.session.scalars(sa.select(StripeSubscription)).all()
    db.session.refresh(subscription)
    assert subscription.status == "canceled"
    assert table.get_by_role("link", name="Confirm payment").count() == 0


def test_the_pages_fit_a_phone(page: Any, shoot: Shooter, db: SQLAlchemy, user: hostapp.User) -> None:
    customer_with(user)
    make_plan(db, "Starter", 900)
    make_plan(db, "Team", 4900)
    new_charge(db, user, amount=2599)
    page.set_viewport_size(PHONE)

    for path, name in [
        ("/billing/account", "phone-account"),
        ("/billing/plans", "phone-plans"),
        ("/billing/card", "phone-card"),
    ]:
        page.goto(path)
        shoot(name)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"

"""Demo data: two users, three plans and a welcome coupon, created at Stripe on first start.

Seeding runs at every start and only adds what is missing, here or at Stripe: a second start (the demo keeps its
database and offline Stripe across restarts) changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app

from flask_stripe_billing import ConfigurationError, StripeRequestError, coupons
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeCoupon, StripeSubscriptionPlan

from .models import User, db

logger = logging.getLogger(__name__)

DEMO_USER = ("demo@example.com", "demo-password")
ADMIN_USER = ("admin@example.com", "admin-password")

PLANS = [
    {"name": "Starter", "amount": 900, "currency": "usd", "interval": "month", "lookup_key": "acme-starter-monthly"},
    {
        "name": "Pro",
        "amount": 2900,
        "currency": "usd",
        "interval": "month",
        "trial_period_days": 14,
        "lookup_key": "acme-pro-monthly",
    },
    {"name": "Pro yearly", "amount": 29000, "currency": "usd", "interval": "year", "lookup_key": "acme-pro-yearly"},
]

#: Marks the Customer Portal configuration the demo makes (its plans, switchable; quantities; cancellation).
PORTAL_MARK = {"app": "acme-analytics-example"}

#: The code the home page offers new customers: 10% off their first payment.
WELCOME_COUPON: dict[str, Any] = {
    "coupon_id": "WELCOME10",
    "name": "Welcome: 10% off",
    "percent_off": Decimal("10"),
    "duration": "once",
}


def seed() -> None:
    """Create the demo users, plans and welcome coupon unless they exist, here and at Stripe."""
    for (email, password), is_admin in ((DEMO_USER, False), (ADMIN_USER, True)):
        if db.session.scalar(sa.select(User).where(User.email == email)) is None:
            user = User(email=email, is_admin=is_admin)
            user.set_password(password)
            db.session.add(user)
    if not db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscriptionPlan)):
        db.session.add_all(StripeSubscriptionPlan(**plan) for plan in PLANS)
    db.session.commit()
    for plan in db.session.scalars(
        sa.select(StripeSubscriptionPlan).where(~StripeSubscriptionPlan.is_created_at_stripe)
    ):
        try:
            plan.create_at_stripe()
        except ConfigurationError:
            return  # `flask` loaded the app to list its commands, without Stripe keys: Stripe waits for a real start
        except StripeRequestError as exc:
            # The pricing page still lists the plan; subscribing to it fails until Stripe is reachable.
            logger.warning("Could not create plan %r at Stripe: %s", plan.name, exc)
    seed_welcome_coupon()
    with contextlib.suppress(StripeRequestError, ConfigurationError):
        portal_configuration()  # made now, so that the first "Manage billing" click is quick


def portal_configuration() -> str | None:
    """``STRIPE_PORTAL_CONFIGURATION``: the demo's Customer Portal configuration, found by its metadata or made
    (customers may switch between the plans, change quantity, cancel at the end of the period, change card)."""
    cache = current_app.extensions.setdefault("example_app.portal", {})
    if "id" in cache:
        return str(cache["id"])
    plans = list(
        db.session.scalars(
            sa.select(StripeSubscriptionPlan).where(
                StripeSubscriptionPlan.is_created_at_stripe, StripeSubscriptionPlan.is_active
            )
        )
    )
    if not plans:
        return None
    gateway = get_state().gateway
    found = gateway.request("get", "/v1/billing_portal/configurations", {"active": True, "limit": 100})
    for configuration in found.get("data") or []:
        if dict(configuration.get("metadata") or {}) == PORTAL_MARK:
            cache["id"] = configuration["id"]
            return str(configuration["id"])
    params: dict[str, Any] = {
        "business_profile": {"headline": "Acme Analytics: manage your subscription"},
        "features": {
            "customer_update": {"enabled": False},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity"],
                "proration_behavior": "create_prorations",
                "products": [{"product": plan.stripe_product_id, "prices": [plan.stripe_price_id]} for plan in plans],
            },
        },
        "metadata": PORTAL_MARK,
    }
    key = gateway.new_idempotency_key("billing_portal_configuration", "create")
    created = gateway.request("post", "/v1/billing_portal/configurations", params, idempotency_key=key)
    cache["id"] = created["id"]
    return str(created["id"])


def welcome_coupon() -> StripeCoupon | None:
    """The welcome coupon when it exists here and at Stripe (reads only the database)."""
    return coupons.get_live_coupon(WELCOME_COUPON["coupon_id"])


def seed_welcome_coupon() -> StripeCoupon | None:
    """Create :data:`WELCOME_COUPON` at Stripe and here unless it exists; return it (``None`` if Stripe could not
    be reached).

    A row left by a creation whose answer was lost is sent again with its idempotency key.  A coupon Stripe
    already has (a database made afresh beside a kept Stripe account) is brought here from Stripe's list.
    """
    existing = welcome_coupon()
    if existing is not None:
        return existing
    try:
        return coupons.create_coupon(**WELCOME_COUPON)
    except StripeRequestError as exc:
        if exc.code != "resource_already_exists" and exc.http_status != 409:  # Stripe's code; some servers say 409
            logger.warning("Could not create coupon %r at Stripe: %s", WELCOME_COUPON["coupon_id"], exc)
            return None
    try:
        coupons.refresh_coupons()
    except StripeRequestError as exc:
        logger.warning("Could not read the coupons at Stripe: %s", exc)
    return welcome_coupon()

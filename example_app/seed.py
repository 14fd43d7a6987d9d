"""Demo data: two users and three plans, created at Stripe on first start."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from flask_stripe_billing import StripeRequestError
from flask_stripe_billing.models import StripeSubscriptionPlan

from .models import User, db

logger = logging.getLogger(__name__)

DEMO_USER = ("demo@example.com", "demo-password")
ADMIN_USER = ("admin@example.com", "admin-password")

PLANS = [
    {"name": "Starter", "amount": 900, "currency": "usd", "interval": "month"},
    {"name": "Pro", "amount": 2900, "currency": "usd", "interval": "month", "trial_period_days": 14},
    {"name": "Pro yearly", "amount": 29000, "currency": "usd", "interval": "year"},
]


def seed() -> None:
    """Create the demo users and plans unless they exist, then create the plans at Stripe."""
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
        except StripeRequestError as exc:
            # The pricing page still lists the plan; subscribing to it fails until Stripe is reachable.
            logger.warning("Could not create plan %r at Stripe: %s", plan.name, exc)

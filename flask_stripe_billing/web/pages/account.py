"""The billing account: cards, subscriptions, and the history of charges with their refunds."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ...core.state import get_state
from ...models.base import subscriber_key
from ...models.charge import StripeCharge
from ...models.subscription import StripeSubscription
from ..owner import current_customer
from .common import page_view, render

#: How many charges the history shows, newest first.
CHARGE_HISTORY_LENGTH = 50


@page_view
def account(subscriber: Any) -> str:
    """Everything the subscriber has with us, read from the database only (the page never calls Stripe)."""
    session = get_state().db.session
    key = subscriber_key(subscriber)
    subscriptions = session.scalars(
        sa.select(StripeSubscription)
        .where(StripeSubscription.subscriber_id == key, StripeSubscription.is_created_at_stripe.is_(True))
        .options(selectinload(StripeSubscription.plan))
        .order_by(StripeSubscription.id.desc())
    )
    charges = session.scalars(
        sa.select(StripeCharge)
        .where(StripeCharge.subscriber_id == key)
        .options(selectinload(StripeCharge.refunds))
        .order_by(StripeCharge.created_at.desc(), StripeCharge.id.desc())
        .limit(CHARGE_HISTORY_LENGTH)
    )
    return render(
        "account.html",
        customer=current_customer(subscriber),
        subscriptions=list(subscriptions),
        charges=list(charges),
    )

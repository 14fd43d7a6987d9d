"""The billing pages through the test client: CSRF tokens, form posts, subscribing, flashed messages."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeSubscription
from tests import hostapp
from tests.factories.charges import customer_with
from tests.factories.subscriptions import created_plan

TOKEN_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(client: FlaskClient, path: str = "/billing/account") -> str:
    """The token the pages render into their forms and head (read from a page, as a browser would)."""
    match = TOKEN_META.search(client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a page's form with this session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def subscriptions_of(db: SQLAlchemy, user: hostapp.User) -> list[StripeSubscription]:
    db.session.expire_all()
    query = sa.select(StripeSubscription).where(StripeSubscription.subscriber_id == user.id)
    return list(db.session.scalars(query))


def subscribed(db: SQLAlchemy, user: hostapp.User, client: FlaskClient, **plan_fields: Any) -> StripeSubscription:
    """*user* (logged in on *client*) with a card, subscribed to a new plan through the plans page."""
    customer_with(user)
    plan = created_plan(db, **{"amount": 1500, **plan_fields})
    post(client, "/billing/subscribe", {"plan_id": str(plan.id)})
    [subscription] = subscriptions_of(db, user)
    return subscription


def flashed(client: FlaskClient) -> list[tuple[str, str]]:
    """The messages flashed to *client*'s session and not shown yet, as (category, message)."""
    with client.session_transaction() as session:
        return [tuple(item) for item in session.get("_flashes", [])]  # type: ignore[misc]

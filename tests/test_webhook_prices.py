"""``price.*`` and ``product.*`` events keep plans as the Dashboard leaves prices, never older over newer.

Prices and products are made at the offline Stripe beforehand, as if in the Dashboard (an imported price's product
is read from there); the events are signed by hand with :func:`flask_stripe_billing.testing.send_webhook`.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeSubscriptionPlan, WebhookStatus
from flask_stripe_billing.webhooks.handlers import BUILTIN_HANDLERS
from tests.factories.plans import dashboard_price, price_object
from tests.factories.subscriptions import created_plan
from tests.factories.webhooks import send_event, stored


def plans_in(db: SQLAlchemy) -> list[StripeSubscriptionPlan]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StripeSubscriptionPlan).order_by(StripeSubscriptionPlan.id)))


def processed(db: SQLAlchemy) -> bool:
    return {hook.status for hook in stored(db)} == {WebhookStatus.PROCESSED}


def test_the_catalogue_events_have_handlers() -> None:
    events = {"price.created", "price.updated", "price.deleted", "product.created", "product.updated"}
    assert events | {"product.deleted"} <= set(BUILTIN_HANDLERS)


def test_a_price_made_in_the_dashboard_is_imported_with_its_product_name(client: FlaskClient, db: SQLAlchemy) -> None:
    price = dashboard_price(4900, product_name="Team", interval="year", lookup_key="team_yearly")
    assert isinstance(price["product"], str)  # events name the product by id: its name is read from Stripe
    send_event(client, "price.created", price)

    [plan] = plans_in(db)
    assert (plan.stripe_price_id, plan.name, plan.amount, plan.interval) == (price["id"], "Team", 4900, "year")
    assert (plan.lookup_key, plan.stripe_product_id, plan.active, plan.is_created_at_stripe) == (
        "team_yearly",
        price["product"],
        True,
        True,
    )
    assert processed(db)


def test_events_about_prices_that_are_no_plans_of_ours_are_ignored(client: FlaskClient, db: SQLAlchemy) -> None:
    send_event(client, "price.created", dashboard_price(500, interval=None))  # one-time
    send_event(client, "price.created", price_object("price_archived", active=False))
    send_event(client, "price.updated", price_object("price_unknown"))
    send_event(client, "price.deleted", price_object("price_unknown"))
    send_event(client, "product.updated", {"id": "prod_unknown", "object": "product", "name": "X"})
    assert plans_in(db) == []
    assert processed(db)


def test_price_updates_apply_and_older_ones_do_not(client: FlaskClient, db: SQLAlchemy) -> None:
    plan = created_plan(db, lookup_key="pro")
    data: dict[str, Any] = {**plan.stripe_response, "product": plan.stripe_product_id}
    later = int(time.time()) + 60  # read now: the suite may run long after this module was imported

    send_event(client, "price.updated", {**data, "lookup_key": "pro_monthly", "metadata": {"a": "1"}}, created=later)
    db.session.refresh(plan)
    assert (plan.lookup_key, plan.metadata_, plan.name) == ("pro_monthly", {"a": "1"}, "Pro")

    send_event(client, "price.updated", {**data, "active": False, "lookup_key": "stale"}, created=later - 30)
    db.session.refresh(plan)
    assert (plan.lookup_key, plan.active) == ("pro_monthly", True)  # older than what the row holds

    send_event(client, "price.updated", {**data, "active": False, "lookup_key": "pro_monthly"}, created=later + 1)
    db.session.refresh(plan)
    assert not plan.active
    assert processed(db)


def test_a_deleted_price_deactivates_its_plan(client: FlaskClient, db: SQLAlchemy) -> None:
    plan = created_plan(db)
    send_event(client, "price.deleted", {"id": plan.stripe_price_id, "object": "price", "deleted": True})
    db.session.refresh(plan)
    assert not plan.active


def test_product_events_rename_and_archive_every_plan_of_the_product(client: FlaskClient, db: SQLAlchemy) -> None:
    monthly = created_plan(db, stripe_product_id="prod_shared")
    yearly = created_plan(db, name="Pro", amount=20000, interval="year", stripe_product_id="prod_shared")
    other = created_plan(db, name="Other")
    product = {"id": "prod_shared", "object": "product", "name": "Pro plus", "description": "More", "active": True}

    now = int(time.time())
    send_event(client, "product.updated", product, created=now + 60)
    assert [(plan.name, plan.description) for plan in plans_in(db)] == [("Pro plus", "More")] * 2 + [("Other", None)]

    send_event(client, "product.updated", {**product, "active": False}, created=now + 61)
    assert [plan.active for plan in plans_in(db)] == [False, False, True]

    send_event(client, "product.updated", product, created=now + 62)  # restored: the prices are active again
    assert [plan.active for plan in plans_in(db)] == [True, True, True]

    send_event(client, "product.deleted", {"id": "prod_shared", "object": "product", "deleted": True})
    assert [(plan.id, plan.active) for plan in plans_in(db)] == [
        (monthly.id, False),
        (yearly.id, False),
        (other.id, True),
    ]
    assert processed(db)


def test_the_price_created_of_a_plan_being_created_lands_on_its_row(client: FlaskClient, db: SQLAlchemy) -> None:
    """The event can arrive before the creation has stored Stripe's answer: the row is found by lookup key."""
    plan = StripeSubscriptionPlan(name="Pro", amount=2000, currency="usd", interval="month", lookup_key="fsb_pending")
    db.session.add(plan)
    db.session.commit()
    price = dashboard_price(2000, lookup_key="fsb_pending")
    send_event(client, "price.created", price)

    [row] = plans_in(db)
    assert (row.id, row.stripe_price_id, row.is_created_at_stripe) == (plan.id, price["id"], True)

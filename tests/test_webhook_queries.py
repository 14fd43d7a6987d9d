"""Query budget of the webhook endpoint: what one delivery costs the database, per event type."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeCoupon, StripeCustomer, StripeSubscription, StripeSubscriptionPlan
from flask_stripe_billing.testing import send_webhook
from tests import hostapp
from tests import synthetic_events as synthetic

#: Every new event costs these statements (transaction control excluded): INSERT ... RETURNING to store it,
#: SELECT it to process it, UPDATE it to processed.  (A built-in ``webhook_post_parse`` receiver that read
#: an attribute of the event after the commit would cost one more SELECT, since the commit expires it.)
BASE = 3

#: Events about nothing we mirror (no object, or an object with no local row): the base, plus at most one
#: lookup by Stripe id.
NOTHING_TO_DO: dict[str, int] = {
    "ping": BASE,
    "customer.updated": BASE + 1,
    "customer.deleted": BASE + 1,
    "invoice.paid": BASE + 1,
}

#: A factory of the rows an event is about: it adds them to the database and returns the event's object.
RowsFactory = Callable[[SQLAlchemy], dict[str, Any]]


def mirrored_customer(db: SQLAlchemy) -> dict[str, Any]:
    user = hostapp.User(email="budget@example.com")
    db.session.add(user)
    db.session.flush()
    db.session.add(StripeCustomer(subscriber_id=user.id, stripe_customer_id="cus_budget", is_created_at_stripe=True))
    db.session.commit()
    card = synthetic.card("old", "card_budget", "cus_budget")
    return synthetic.customer("old", "cus_budget", [card], "card_budget")


def mirrored_subscription(db: SQLAlchemy) -> dict[str, Any]:
    mirrored_customer(db)
    customer = db.session.scalars(sa.select(StripeCustomer).filter_by(stripe_customer_id="cus_budget")).one()
    plan = StripeSubscriptionPlan(
        name="Budget", amount=1000, currency="usd", stripe_plan_id="plan_budget", is_created_at_stripe=True
    )
    db.session.add(plan)
    db.session.flush()
    subscription = StripeSubscription(
        subscriber_id=customer.subscriber_id,
        customer_id=customer.id,
        plan_id=plan.id,
        stripe_subscription_id="sub_budget",
        status="active",
        is_created_at_stripe=True,
    )
    db.session.add(subscription)
    db.session.commit()
    period = {"current_period_start": 1_700_000_000, "current_period_end": 1_702_592_000}
    item = {"id": "si_budget", "object": "subscription_item", "plan": {"id": "plan_budget"}, **period}
    return {
        "id": "sub_budget",
        "object": "subscription",
        "status": "past_due",
        "customer": "cus_budget",
        "items": {"object": "list", "data": [item]},
    }


def mirrored_coupon(db: SQLAlchemy) -> dict[str, Any]:
    db.session.add(StripeCoupon(coupon_id="BUDGET", percent_off=10, is_created_at_stripe=True))
    db.session.commit()
    return {"id": "BUDGET", "object": "coupon", "percent_off": 10, "duration": "once", "name": "Budget", "valid": True}


#: Budgets of the built-in handlers, per event type, with the rows each handler works on.
#: Charges, subscriptions and coupons: add a case here for each event type your handlers take.
HANDLER_BUDGETS: dict[str, tuple[int, RowsFactory]] = {
    # + SELECT the customer, SELECT ... FOR UPDATE it (after any Stripe read), UPDATE it.
    "customer.updated": (BASE + 3, mirrored_customer),
    # + one UPDATE ... WHERE stripe_customer_id: a deletion needs no comparison.
    "customer.deleted": (BASE + 1, mirrored_customer),
    # + a plain SELECT of the subscription and of the plan of its price (a subscription or a price new to us is
    # read from Stripe before any lock: adoption, a Portal switch), SELECT ... FOR UPDATE the subscription,
    # SELECT its customer (its plan is then the one already loaded), UPDATE it twice (autoflushed by the loads).
    "customer.subscription.updated": (BASE + 6, mirrored_subscription),
    # + SELECT ... FOR UPDATE the live coupon, UPDATE it.
    "coupon.updated": (BASE + 2, mirrored_coupon),
}


@pytest.fixture
def statements(db: SQLAlchemy) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("event_type", sorted(NOTHING_TO_DO))
def test_event_about_nothing_we_mirror_within_budget(
    client: FlaskClient, statements: list[str], event_type: str
) -> None:
    obj = {} if event_type == "ping" else {"id": "obj_unknown", "object": event_type.rpartition(".")[0]}
    send_webhook(client, event_type, obj)
    assert len(statements) <= NOTHING_TO_DO[event_type], statements


@pytest.mark.parametrize("event_type", sorted(HANDLER_BUDGETS))
def test_handled_event_within_budget(
    client: FlaskClient, db: SQLAlchemy, statements: list[str], event_type: str
) -> None:
    budget, rows = HANDLER_BUDGETS[event_type]
    obj = rows(db)
    statements.clear()
    send_webhook(client, event_type, obj)
    assert BASE < len(statements) <= budget, statements  # the handler did its work, within the budget


def test_duplicate_costs_one_statement(client: FlaskClient, statements: list[str]) -> None:
    send_webhook(client, "ping", {}, event_id="evt_twice")
    statements.clear()
    response = send_webhook(client, "ping", {}, event_id="evt_twice")
    assert response.json == {"received": "evt_twice", "duplicate": True}
    assert len(statements) == 1, statements

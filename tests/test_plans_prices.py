"""The catalogue on Prices: a plan is made as a product and a price, found again by its lookup key after a lost
answer, resolved from a row, a Price id or a lookup key (importing prices made in the Dashboard), and subscribed
to by any of them."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

from flask_stripe_billing import errors
from flask_stripe_billing.billable import BillableMixin
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import (
    Base,
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionPlan,
    SubscriptionStatus,
)
from flask_stripe_billing.plans import plan_from_stripe_price, resolve_plan
from flask_stripe_billing.subscriptions import change_plan, subscribe
from flask_stripe_billing.subscriptions.from_stripe import apply_stripe_subscription
from tests import hostapp
from tests.factories.plans import dashboard_price, price_object, serve_prices
from tests.factories.subscriptions import created_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub


def plan_row(db: SQLAlchemy, **fields: Any) -> StripeSubscriptionPlan:
    values: dict[str, Any] = {"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month", **fields}
    plan = StripeSubscriptionPlan(**values)
    db.session.add(plan)
    db.session.commit()
    return plan


def plans_in(db: SQLAlchemy) -> list[StripeSubscriptionPlan]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StripeSubscriptionPlan).order_by(StripeSubscriptionPlan.id)))


# -- creating, through the spec-validating stub --------------------------------------------------------------


def test_create_sends_a_product_then_a_price(stub_app: Flask, stub: StripeStub) -> None:
    serve_prices(stub)
    plan = plan_row(hostapp.db, metadata_={"tier": "pro"}, interval_count=3, trial_period_days=7, lookup_key="pro_q")
    data = plan.create_at_stripe()

    product = stub.last("POST", "/v1/products")
    price = stub.last("POST", "/v1/prices")
    assert product.params == {"id": plan.stripe_product_id, "name": "Pro", "metadata": {"tier": "pro"}}
    assert price.params == {
        "product": plan.stripe_product_id,
        "unit_amount": 2000,
        "currency": "usd",
        "recurring": {"interval": "month", "interval_count": 3},
        "nickname": "Pro",
        "lookup_key": "pro_q",
        "metadata": {"tier": "pro"},
    }
    assert price.idempotency_key == f"{plan.idempotency_key}-price"
    assert product.idempotency_key == f"{plan.idempotency_key}-product"
    assert not stub.violations
    assert (plan.stripe_price_id, plan.lookup_key, plan.is_created_at_stripe) == (data["id"], "pro_q", True)
    assert plan.stripe_response["product"]["name"] == "Pro"  # kept, so that later events know the name
    assert plan.active
    assert plan.is_active


def test_a_lost_answer_is_followed_by_a_take_over_not_a_second_price(stub_app: Flask, stub: StripeStub) -> None:
    serve_prices(stub)
    create = stub._handlers["POST", "/v1/prices"]

    def lose_the_answer(params: dict[str, Any], stored: dict[str, Any]) -> Any:
        create(params, stored)  # made at Stripe...
        return 500, {"error": {"type": "api_error", "message": "The answer was lost."}}  # ...but not heard of

    stub.on("POST", "/v1/prices", lose_the_answer)
    plan = plan_row(hostapp.db)
    with pytest.raises(errors.OutcomeUnknownError):
        plan.create_at_stripe()
    hostapp.db.session.expire_all()
    assert str(plan.lookup_key).startswith("fsb_")  # chosen and committed before the request
    assert not plan.is_created_at_stripe

    data = plan.create_at_stripe()
    prices = [obj for obj in stub.store.objects.values() if obj.get("object") == "price"]
    assert [price["id"] for price in prices] == [data["id"]] == [plan.stripe_price_id]
    assert len([r for r in stub.requests if (r.method, r.templated_path) == ("POST", "/v1/prices")]) == 1
    assert plan.is_created_at_stripe


def test_a_host_chosen_price_id_is_adopted_when_it_exists(stub_app: Flask, stub: StripeStub) -> None:
    serve_prices(stub)
    existing = dashboard_price(2000, lookup_key="made_elsewhere")
    plan = plan_row(hostapp.db, stripe_price_id=existing["id"])
    assert plan.create_at_stripe()["id"] == existing["id"]
    assert (plan.is_created_at_stripe, plan.lookup_key) == (True, "made_elsewhere")
    assert not [r for r in stub.requests if r.method == "POST" and r.templated_path == "/v1/prices"][1:]

    unknown = plan_row(hostapp.db, name="Team", stripe_price_id="price_unknown")
    with pytest.raises(errors.PlanError, match="lookup_key"):
        unknown.create_at_stripe()


# -- resolving ------------------------------------------------------------------------------------------------


def test_resolve_plan_by_row_price_id_and_lookup_key(app: Flask, db: SQLAlchemy) -> None:
    plan = created_plan(db, lookup_key="pro_monthly")
    assert resolve_plan(plan) is plan
    assert resolve_plan(plan.stripe_price_id) is plan
    assert resolve_plan("pro_monthly") is plan
    assert len(plans_in(db)) == 1


def test_unknown_prices_are_imported_from_stripe(app: Flask, db: SQLAlchemy) -> None:
    by_id = dashboard_price(1500, product_name="Starter", interval="week", metadata={"seats": "3"})
    by_key = dashboard_price(9000, product_name="Team", interval="year", lookup_key="team_yearly")

    starter = resolve_plan(by_id["id"])
    team = resolve_plan("team_yearly")

    assert (starter.name, starter.amount, starter.currency, starter.interval) == ("Starter", 1500, "usd", "week")
    assert (starter.metadata_, starter.stripe_product_id, starter.is_created_at_stripe) == (
        {"seats": "3"},
        by_id["product"],
        True,
    )
    assert (team.name, team.stripe_price_id, team.lookup_key, team.interval) == (
        "Team",
        by_key["id"],
        "team_yearly",
        "year",
    )
    assert resolve_plan(by_id["id"]) is starter  # found here now: imported once
    assert len(plans_in(db)) == 2


def test_a_plan_made_with_the_plans_api_is_a_price(app: Flask, db: SQLAlchemy) -> None:
    gateway = get_state().gateway
    product = gateway.request("post", "/v1/products", {"name": "Legacy"}, object_type="test", action="create")
    params = {"id": "plan_legacy", "product": product["id"], "amount": 700, "currency": "usd", "interval": "month"}
    gateway.request("post", "/v1/plans", params, object_type="test", action="create")
    plan = resolve_plan("plan_legacy")
    assert (plan.stripe_price_id, plan.stripe_plan_id, plan.name, plan.amount) == ("plan_legacy",) * 2 + ("Legacy", 700)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "No plan given"),
        ("", "No plan given"),
        ("   ", "No plan given"),
        (42, "is not a plan"),
        (["price_1"], "is not a plan"),
        ("bad\x00id", "is not a Price id"),
        ("price_missing", "Stripe has no price"),
        ("no_such_key", "lookup key"),
    ],
)
def test_resolve_plan_refuses_what_is_not_a_plan(app: Flask, db: SQLAlchemy, given: Any, message: str) -> None:
    with pytest.raises(errors.PlanError, match=message):
        resolve_plan(given)
    assert plans_in(db) == []


def test_one_time_and_archived_prices_and_inactive_plans_are_refused(app: Flask, db: SQLAlchemy) -> None:
    one_time = dashboard_price(500, interval=None, lookup_key="sticker")
    archived = dashboard_price(800, active=False)
    with pytest.raises(errors.PlanError, match="one-time"):
        resolve_plan(one_time["id"])
    with pytest.raises(errors.PlanError, match="one-time"):
        resolve_plan("sticker")
    with pytest.raises(errors.PlanError, match="archived"):
        resolve_plan(archived["id"])
    assert plans_in(db) == []

    plan = created_plan(db, lookup_key="retired")
    plan.active = False
    db.session.commit()
    for given in (plan, "retired", plan.stripe_price_id):
        with pytest.raises(errors.PlanError, match="no longer offered"):
            resolve_plan(given)


# -- Stripe Price -> row --------------------------------------------------------------------------------------


def test_plan_from_a_stripe_library_object_and_never_older_over_newer(
    app: Flask, db: SQLAlchemy, offline_client: stripe.StripeClient
) -> None:
    made = dashboard_price(2500, product_name="Plus", lookup_key="plus")
    price = offline_client.v1.prices.retrieve(made["id"], params={"expand": ["product"]})
    assert not isinstance(price, dict)  # the library's objects are not dicts: they are read all the same

    plan = plan_from_stripe_price(price)
    db.session.commit()
    assert (plan.name, plan.amount, plan.lookup_key, plan.active) == ("Plus", 2500, "plus", True)
    assert plan_from_stripe_price(price) is plan  # the same row: upserted on the price id
    db.session.commit()

    older = price_object(made["id"], product=made["product"], unit_amount=2500, lookup_key="plus", active=False)
    plan_from_stripe_price(older, seen_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    db.session.commit()
    assert plan.active  # the older view of the price did not win
    assert len(plans_in(db)) == 1


def test_a_lookup_key_moved_to_another_price_moves_here_too(app: Flask, db: SQLAlchemy) -> None:
    first = plan_from_stripe_price(price_object("price_first", product={"id": "prod_a", "name": "A"}, lookup_key="pro"))
    db.session.commit()
    second = plan_from_stripe_price(
        price_object("price_second", product={"id": "prod_a", "name": "A"}, lookup_key="pro", unit_amount=2500)
    )
    db.session.commit()
    assert (first.lookup_key, second.lookup_key) == (None, "pro")
    assert resolve_plan("pro") is second


# -- subscribing by Price id or lookup key --------------------------------------------------------------------


def test_subscribe_by_lookup_key_sends_the_price_and_the_trial(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    plan = created_plan(db, lookup_key="pro_monthly", trial_period_days=14)
    # The mixin's verbs on the suite's plain user model (the mixin adds no columns).
    subscription = BillableMixin.subscribe(user, "pro_monthly")

    request = stripe_http.last("POST", "/v1/subscriptions")
    assert request.params["items"] == [{"price": plan.stripe_price_id}]
    assert request.params["trial_period_days"] == 14
    assert "trial_from_plan" not in request.params
    assert subscription.plan is plan
    assert subscription.status == SubscriptionStatus.TRIALING
    assert BillableMixin.subscribed(user, "pro_monthly")
    assert BillableMixin.subscribed(user, plan.stripe_price_id)
    assert BillableMixin.subscribed(user, plan)
    assert not BillableMixin.subscribed(user, "another_key")


def test_subscribe_to_a_dashboard_price_and_switch_by_price_id(
    app: Flask, db: SQLAlchemy, user: hostapp.User, customer: StripeCustomer, stripe_http: ValidatingHTTPClient
) -> None:
    starter = dashboard_price(900, product_name="Starter", lookup_key="starter")
    team = dashboard_price(4900, product_name="Team")
    subscription = subscribe(user, "starter")
    assert subscription.plan.name == "Starter"

    change_plan(subscription, team["id"])
    request = stripe_http.last("POST", "/v1/subscriptions/{subscription_exposed_id}")
    assert request.params["items"][0]["price"] == team["id"]
    assert subscription.plan.stripe_price_id == team["id"]
    assert {plan.stripe_price_id for plan in plans_in(db)} == {starter["id"], team["id"]}


def test_a_subscription_follows_its_item_price_before_the_older_plan_field(app: Flask, db: SQLAlchemy) -> None:
    starter = plan_row(db, name="Starter", stripe_price_id="price_starter", is_created_at_stripe=True)
    team = plan_row(db, name="Team", stripe_price_id="price_team", is_created_at_stripe=True)
    subscription = StripeSubscription(plan=starter, stripe_subscription_id="sub_1", is_created_at_stripe=True)
    db.session.add(subscription)
    db.session.commit()
    # Switched in the Dashboard: the item's price is the new one (a stale plan field must not win).
    item = {"id": "si_1", "price": {"id": "price_team", "object": "price"}, "plan": {"id": "price_starter"}}
    apply_stripe_subscription(subscription, {"id": "sub_1", "status": "active", "items": {"data": [item]}})
    assert subscription.plan is team


# -- the migration ----------------------------------------------------------------------------------------------

MIGRATIONS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "migrations.rst"


def documented_operations() -> dict[str, Any]:
    """``upgrade`` and ``downgrade`` of docs/migrations.rst's "Plans become Prices", compiled (``op`` and ``sa``
    are bound when they run)."""
    section = MIGRATIONS_PAGE.read_text().split("\nPlans become Prices\n", 1)[1]
    lines = section.split(".. code-block:: python\n", 1)[1].splitlines()
    end = next(index for index, line in enumerate(lines) if line and not line.startswith(" "))
    code = textwrap.dedent("\n".join(lines[:end]))
    namespace: dict[str, Any] = {"sa": sa}
    exec(compile(code, str(MIGRATIONS_PAGE), "exec"), namespace)  # noqa: S102 - the page's code, run as a reader would
    return namespace


def old_plans_table(metadata: sa.MetaData) -> sa.Table:
    """``stripe_billing_plans`` as it was before Prices: ``stripe_plan_id``, no ``lookup_key``."""
    current = StripeSubscriptionPlan.__table__
    columns = [
        sa.Column("stripe_plan_id", sa.String(255), unique=True) if column.name == "stripe_price_id" else column._copy()
        for column in current.columns
        if column.name != "lookup_key"
    ]
    checks = [
        sa.CheckConstraint(c.sqltext, name=c.name) for c in current.constraints if isinstance(c, sa.CheckConstraint)
    ]
    return sa.Table(current.name, metadata, *columns, *checks)


def schema_differences(connection: sa.Connection) -> list[Any]:
    """What autogenerate would change to make the database's plans table the model's."""
    models = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    StripeSubscriptionPlan.__table__.to_metadata(models)
    return compare_metadata(MigrationContext.configure(connection), models)


def test_the_documented_migration_renames_the_column_and_keeps_the_ids(scratch_database: str) -> None:
    operations = documented_operations()
    engine = sa.create_engine(scratch_database)
    try:
        with engine.begin() as connection:
            old = old_plans_table(sa.MetaData(naming_convention=Base.metadata.naming_convention))
            old.create(connection)
            now = dt.datetime.now(dt.UTC)
            row = {"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month", "interval_count": 1}
            row |= {"is_active": True, "is_created_at_stripe": True, "created_at": now, "updated_at": now}
            connection.execute(old.insert().values(stripe_plan_id="plan_old", metadata={}, **row))
            assert schema_differences(connection)  # the model no longer matches the old table

            operations["op"] = Operations(MigrationContext.configure(connection))
            operations["upgrade"]()
            assert schema_differences(connection) == []
        with Session(engine) as session:
            plan = session.scalars(sa.select(StripeSubscriptionPlan)).one()
            assert (plan.stripe_price_id, plan.stripe_plan_id, plan.lookup_key) == ("plan_old", "plan_old", None)
            session.add(StripeSubscriptionPlan(lookup_key="pro", stripe_price_id="price_new", **row))
            session.commit()
            session.add(StripeSubscriptionPlan(lookup_key="pro", stripe_price_id="price_other", **row))
            with pytest.raises(sa.exc.IntegrityError):
                session.commit()  # lookup keys are unique
        with engine.begin() as connection:
            operations["op"] = Operations(MigrationContext.configure(connection))
            operations["downgrade"]()
            # Back to the old table exactly (the unique constraint under its old name included).
            assert compare_metadata(MigrationContext.configure(connection), old.metadata) == []
    finally:
        engine.dispose()

"""The data model: tables on the host's database, types, constraints, the subscriber link."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCharge,
    StripeCoupon,
    StripeCustomer,
    StripeIdempotencyKey,
    StripeRefund,
    StripeSubscription,
    StripeSubscriptionPlan,
    StripeWebhook,
    from_timestamp,
)
from tests import hostapp
from tests.factories.apps import reset_database, table_names

TABLES = {
    "stripe_billing_customers",
    "stripe_billing_charges",
    "stripe_billing_refunds",
    "stripe_billing_plans",
    "stripe_billing_subscriptions",
    "stripe_billing_coupons",
    "stripe_billing_webhooks",
    "stripe_billing_idempotency_keys",
}

MONEY_COLUMNS = [
    ("stripe_billing_charges", "amount"),
    ("stripe_billing_charges", "amount_refunded"),
    ("stripe_billing_refunds", "amount"),
    ("stripe_billing_plans", "amount"),
    ("stripe_billing_coupons", "amount_off"),
]


def test_every_table_is_created_on_the_host_database(db: SQLAlchemy) -> None:
    assert table_names(db.engine) >= TABLES
    assert set(db.metadata.tables) >= TABLES


def test_money_is_stored_as_integers(db: SQLAlchemy) -> None:
    inspector = sa.inspect(db.engine)
    for table, column in MONEY_COLUMNS:
        (found,) = [c for c in inspector.get_columns(table) if c["name"] == column]
        assert isinstance(found["type"], sa.Integer), (table, column, found["type"])


def test_json_columns_are_jsonb_on_postgresql(db: SQLAlchemy) -> None:
    inspector = sa.inspect(db.engine)
    (raw,) = [c for c in inspector.get_columns("stripe_billing_webhooks") if c["name"] == "raw_data"]
    # MariaDB's JSON is an alias of LONGTEXT (with a json_valid check); MySQL has a JSON type of its own.
    expected = {"postgresql": {"JSONB"}, "mysql": {"JSON", "LONGTEXT"}}.get(db.engine.dialect.name, {"JSON"})
    assert type(raw["type"]).__name__ in expected


def test_json_and_aware_times_round_trip(db: SQLAlchemy, user: hostapp.User) -> None:
    """Nested JSON (MariaDB stores it as text) and times with microseconds come back as they were stored."""
    moment = dt.datetime(2027, 3, 3, 14, 5, 9, 123456, tzinfo=dt.UTC)
    customer = StripeCustomer(stripe_response={"a": [1, {"b": "é"}], "n": 2**53}, stripe_synced_at=moment)
    customer.subscriber = user
    db.session.add(customer)
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(StripeCustomer, customer.id)
    assert again is not None
    assert again.stripe_response == {"a": [1, {"b": "é"}], "n": 2**53}
    assert again.stripe_synced_at == moment


def test_subscriber_foreign_key_keeps_money_records_when_a_user_is_deleted(db: SQLAlchemy, user: hostapp.User) -> None:
    charge = StripeCharge(amount=500, currency="usd")
    charge.subscriber = user
    db.session.add(charge)
    db.session.commit()
    assert charge.subscriber_id == user.id
    assert charge.subscriber is user
    foreign_keys = sa.inspect(db.engine).get_foreign_keys("stripe_billing_charges")
    assert {"referred_table": "users", "constrained_columns": ["subscriber_id"]}.items() <= next(
        fk for fk in foreign_keys if fk["constrained_columns"] == ["subscriber_id"]
    ).items()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("PRAGMA foreign_keys=ON"))
    db.session.delete(user)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(StripeCharge, charge.id) is not None


def test_subscriber_without_primary_key_is_flushed_first(db: SQLAlchemy) -> None:
    account = hostapp.User(email="new@example.com")
    db.session.add(account)
    customer = StripeCustomer()
    customer.subscriber = account
    assert customer.subscriber_id is not None
    customer.subscriber = None
    assert customer.subscriber is None


def test_latest_active_customer(db: SQLAlchemy, user: hostapp.User) -> None:
    old = StripeCustomer(stripe_customer_id="cus_old", is_created_at_stripe=True)
    old.subscriber = user
    new = StripeCustomer(stripe_customer_id="cus_new", is_created_at_stripe=True)
    new.subscriber = user
    never_created = StripeCustomer()
    never_created.subscriber = user
    db.session.add_all([old, new, never_created])
    db.session.commit()
    assert StripeCustomer.get_latest_active_customer_for_user(user) is new
    new.is_active = False
    db.session.commit()
    assert StripeCustomer.get_latest_active_customer_for_user(user) is old
    other = hostapp.User(email="other@example.com")
    db.session.add(other)
    db.session.commit()
    assert StripeCustomer.get_latest_active_customer_for_user(other) is None


def test_default_source_data(db: SQLAlchemy) -> None:
    card = {"id": "pm_1", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    customer = StripeCustomer(sources=[{"id": "card_0", "brand": "amex"}, card], default_source="pm_1")
    assert customer.default_source_data == card
    assert StripeCustomer(sources=[card]).default_source_data is None


def test_timestamps_come_back_aware_in_utc(db: SQLAlchemy) -> None:
    local = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    hook = StripeWebhook(id="evt_1", type="ping", event_created=local, raw_data={"id": "evt_1"})
    db.session.add(hook)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(StripeWebhook, "evt_1")
    assert stored is not None
    assert stored.event_created == dt.datetime(2026, 1, 2, 10, 0, tzinfo=dt.UTC)
    assert stored.event_created.tzinfo is not None
    assert stored.received_at.tzinfo is not None
    assert stored.created_at <= stored.updated_at


def test_from_timestamp() -> None:
    assert from_timestamp(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert from_timestamp(None) is None


def test_zero_decimal_currency_amounts_are_exact(db: SQLAlchemy, user: hostapp.User) -> None:
    charge = StripeCharge(amount=10**12, currency="jpy")
    db.session.add(charge)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(StripeCharge, charge.id).amount == 10**12  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "values",
    [
        {"amount": 0},
        {"amount": -5},
        {"amount": 100, "amount_refunded": 101},
    ],
)
def test_charge_amount_constraints(db: SQLAlchemy, values: dict[str, Any]) -> None:
    db.session.add(StripeCharge(currency="usd", **values))
    # MariaDB and MySQL report a failed CHECK constraint as an operational error (4025, 3819), not an integrity one.
    refused = sa.exc.OperationalError if db.engine.dialect.name == "mysql" else sa.exc.IntegrityError
    with pytest.raises(refused, match="amount"):
        db.session.commit()
    db.session.rollback()


def test_charge_defaults_and_refunds(db: SQLAlchemy) -> None:
    charge = StripeCharge(amount=1000, currency="usd")
    db.session.add(charge)
    db.session.commit()
    assert charge.status == ChargeStatus.PENDING
    assert (charge.is_charged, charge.charge_attempt_failed, charge.amount_refunded) == (False, False, 0)
    assert charge.amount_refundable == 0
    charge.is_charged = True
    charge.refunds.append(StripeRefund(amount=300, currency="usd", idempotency_key="k1"))
    charge.amount_refunded = 300
    db.session.commit()
    assert charge.amount_refundable == 700
    assert charge.refunds[0].charge is charge


def test_refund_idempotency_keys_are_unique(db: SQLAlchemy) -> None:
    charge = StripeCharge(amount=1000, currency="usd")
    charge.refunds.extend(
        [
            StripeRefund(amount=1, currency="usd", idempotency_key="same"),
            StripeRefund(amount=2, currency="usd", idempotency_key="same"),
        ]
    )
    db.session.add(charge)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_coupon_id_is_unique_only_among_live_coupons(db: SQLAlchemy) -> None:
    if db.engine.dialect.name == "mysql":
        pytest.skip("MariaDB and MySQL have no partial index: create_coupon and Stripe keep live coupon ids unique")
    db.session.add(StripeCoupon(coupon_id="SPRING", percent_off=decimal.Decimal("12.5"), is_deleted=True))
    db.session.add(StripeCoupon(coupon_id="SPRING", amount_off=500, currency="usd"))
    db.session.commit()
    db.session.add(StripeCoupon(coupon_id="SPRING", percent_off=decimal.Decimal("10")))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    percent = db.session.scalars(sa.select(StripeCoupon.percent_off).where(StripeCoupon.is_deleted)).one()
    assert percent == decimal.Decimal("12.50")


def test_plan_subscription_and_metadata(db: SQLAlchemy, user: hostapp.User) -> None:
    plan = StripeSubscriptionPlan(name="Pro", amount=2000, currency="usd", metadata_={"tier": "pro"})
    subscription = StripeSubscription(plan=plan, metadata_={"seat": "1"}, status="trialing")
    subscription.subscriber = user
    db.session.add(subscription)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalars(sa.select(StripeSubscription)).one()
    assert stored.plan.metadata_ == {"tier": "pro"}
    assert stored.is_live
    assert stored.on_trial()
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("stripe_billing_plans")}
    assert "metadata" in columns


def test_idempotency_key_records(db: SQLAlchemy) -> None:
    db.session.add(StripeIdempotencyKey(uuid="u-1", object_type="charge", action="create"))
    db.session.add(StripeIdempotencyKey(uuid="u-1", object_type="charge", action="create"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_organization_can_be_the_subscriber(database_url: str, stripe_test_config: dict[str, Any]) -> None:
    app: Flask = hostapp.create_app(
        {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url},
        db=hostapp.org_db,
        subscriber_model=hostapp.Organization,
    )
    with app.app_context():
        reset_database(hostapp.org_db)
        org = hostapp.Organization(name="Acme", billing_email="billing@acme.test")
        hostapp.org_db.session.add(org)
        customer = StripeCustomer(stripe_customer_id="cus_org", is_created_at_stripe=True)
        customer.subscriber = org
        hostapp.org_db.session.add(customer)
        hostapp.org_db.session.commit()
        assert StripeCustomer.get_latest_active_customer_for_user(org) is customer
        assert customer.subscriber.email == "billing@acme.test"
        foreign_keys = sa.inspect(hostapp.org_db.engine).get_foreign_keys("stripe_billing_customers")
        assert any(fk["referred_table"] == "organizations" for fk in foreign_keys)
        hostapp.org_db.session.remove()
        hostapp.org_db.drop_all()
        hostapp.org_db.engine.dispose()


def test_one_database_object_cannot_bill_two_subscriber_models(db: SQLAlchemy) -> None:
    from flask_stripe_billing import ConfigurationError

    with pytest.raises(ConfigurationError, match="same subscriber model"):
        hostapp.create_app(
            {"STRIPE_API_KEY": "sk_test_1", "SQLALCHEMY_DATABASE_URI": "sqlite://"},
            subscriber_model=hostapp.Organization,
        )

"""The models' verb families: coupons and charges have the same row verbs as the other models, the verbs reach
their domain through the ports the extension plugs at ``init_app``, and every batch job reports through one
summary type."""

from __future__ import annotations

import decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

import flask_stripe_billing
from flask_stripe_billing import errors
from flask_stripe_billing.core.batch import BatchSummary
from flask_stripe_billing.core.retry import OUTCOME_UNKNOWN, RATE_LIMITED, Backoff
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeCharge, StripeCoupon, StripeCustomer, StripeSubscription
from flask_stripe_billing.models.ports import VerbsPort
from flask_stripe_billing.money import format_money, is_currency, is_positive_amount, is_whole_number


def test_coupon_rows_have_the_verbs_of_every_other_model(app: Flask, db: SQLAlchemy) -> None:
    coupon = StripeCoupon(coupon_id="ROWVERB", percent_off=decimal.Decimal("15"), name="Row", duration="once")
    assert coupon.create_at_stripe() is coupon
    assert coupon.is_live
    assert coupon.stripe_response["id"] == "ROWVERB"
    coupon.update_at_stripe(name="Row renamed", metadata={"campaign": "spring"})
    assert coupon.refresh_from_stripe().name == "Row renamed"
    assert coupon.metadata_ == {"campaign": "spring"}
    assert coupon.delete_at_stripe().is_deleted
    assert StripeCoupon.delete is StripeCoupon.delete_at_stripe


def test_a_coupon_row_is_created_once(app: Flask, db: SQLAlchemy) -> None:
    StripeCoupon(coupon_id="ONCE", amount_off=500, currency="usd").create_at_stripe()
    with pytest.raises(errors.CouponError, match="already used by a live coupon"):
        StripeCoupon(coupon_id="ONCE", amount_off=500, currency="usd").create_at_stripe()
    with pytest.raises(errors.CouponError, match="currency Stripe supports"):
        StripeCoupon(coupon_id="BADCUR", amount_off=500, currency="zzz").create_at_stripe()
    assert db.session.query(StripeCoupon).filter_by(coupon_id="BADCUR").count() == 0


def test_a_coupon_deleted_at_stripe_is_marked_deleted_on_refresh(app: Flask, db: SQLAlchemy) -> None:
    coupon = StripeCoupon(coupon_id="GONE", percent_off=decimal.Decimal("5"))
    coupon.create_at_stripe()
    app.extensions["stripe_billing"].gateway.request("delete", "/v1/coupons/GONE", idempotency_key="del-gone")
    assert coupon.refresh_from_stripe().is_deleted


def test_model_verbs_need_an_initialised_extension() -> None:
    port: VerbsPort[Any] = VerbsPort("StripeThing")
    with pytest.raises(errors.VerbsNotPluggedError, match=r"call billing\.init_app"):
        port()
    port.plug("verbs")
    assert port() == "verbs"


@pytest.mark.parametrize(
    ("model", "verbs"),
    [
        (StripeCharge, ("charge", "refund", "refresh_from_stripe")),
        (StripeCustomer, ("create_at_stripe", "refresh_from_stripe", "add_new_source")),
        (StripeCoupon, ("create_at_stripe", "update_at_stripe", "refresh_from_stripe", "delete_at_stripe")),
        (StripeSubscription, ("create_at_stripe", "refresh_from_stripe", "cancel", "change_plan")),
    ],
)
def test_re_reading_from_stripe_has_one_name(model: type[Any], verbs: tuple[str, ...]) -> None:
    for verb in verbs:
        assert callable(getattr(model, verb)), f"{model.__name__}.{verb}"
    assert not hasattr(model, "sync_from_stripe")


def test_every_exception_is_a_billing_error_and_is_exported() -> None:
    exported = {name: getattr(flask_stripe_billing, name) for name in flask_stripe_billing.__all__}
    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    for cls in classes:
        assert issubclass(cls, Warning) or issubclass(cls, errors.BillingError), cls
        assert exported.get(cls.__name__) is cls, f"{cls.__name__} is not exported by the package"


def test_one_summary_type_counts_outcomes_and_keeps_failures_apart() -> None:
    summary = BatchSummary("updated", "unchanged")
    summary.updated += 2
    summary.failures.add("customer cus_1", errors.RateLimitError("slow down"))
    assert (summary.updated, summary.unchanged, summary.errors, summary.total) == (2, 0, 1, 3)
    with pytest.raises(AttributeError, match="not an outcome"):
        summary.missing += 1
    assert "updated=2" in repr(summary)


def test_one_backoff_policy() -> None:
    assert [RATE_LIMITED.pause(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert not RATE_LIMITED.gives_up_after(5)
    assert RATE_LIMITED.gives_up_after(6)
    assert OUTCOME_UNKNOWN.gives_up_after(3)
    assert Backoff(attempts=4, first=1.0, ceiling=float("inf")).pause(4) == 8.0


def test_one_money_module() -> None:
    assert format_money(1999, "usd") == "$19.99"
    assert format_money(500, "jpy") == "¥500"
    assert format_money(12345, "kwd") == "12.345 KWD"
    assert is_currency("eur")
    assert not is_currency("EUR")
    assert not is_currency("zzz")
    assert not is_currency(None)
    assert is_whole_number(3)
    assert not is_whole_number(True)
    assert not is_whole_number(3.0)
    assert is_positive_amount(1)
    assert not is_positive_amount(0)


def test_a_charge_takes_only_the_options_it_knows() -> None:
    from flask_stripe_billing.charges import charge_subscriber

    with pytest.raises(TypeError, match="unexpected option"):
        charge_subscriber(object(), 500, amount_refunded=500)  # type: ignore[call-arg]


def test_refresh_coupons_reports_a_coupon_it_cannot_read_and_goes_on(stub_app: Flask, stub: Any) -> None:
    good = {"id": "GOOD", "object": "coupon", "percent_off": 10, "duration": "once", "valid": True, "created": 1}
    odd = {"id": "ODD", "object": "coupon", "percent_off": "lots", "duration": "once", "valid": True, "created": 1}
    page = {"object": "list", "url": "/v1/coupons", "has_more": False, "data": [odd, good]}
    stub.on("GET", "/v1/coupons", lambda params, stored: (200, page))
    result = stub_app.test_cli_runner().invoke(args=["stripe", "refresh-coupons"])
    assert result.exit_code == 1, result.output
    assert "Coupons: 1 created, 0 updated, 0 deleted, 0 unchanged; 1 failed." in result.output
    assert "coupon ODD" in result.output
    with stub_app.app_context():
        rows = get_state().db.session.scalars(sa.select(StripeCoupon.coupon_id)).all()
    assert rows == ["GOOD"]


def test_stripe_ids_differing_only_in_case_are_two_rows(app: Flask, db: SQLAlchemy) -> None:
    """MariaDB's default collation is case-insensitive; Stripe's ids are not."""
    from flask_stripe_billing.webhooks.store import event_fields, store_event

    for event_id in ("evt_Ab", "evt_aB"):
        fields = event_fields({"id": event_id, "object": "event", "type": "ping", "created": 1_700_000_000})
        assert store_event(db, fields)
    with pytest.raises(errors.MalformedEventError, match="valid 'id'"):
        event_fields({"id": "evt_Ab ", "object": "event", "type": "ping", "created": 1_700_000_000})

"""Coupons against the offline Stripe: create, update, delete (soft), reconcile, webhooks, the JSON API."""

from __future__ import annotations

import datetime as dt
import decimal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import errors, signals
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.coupons.lookup import coupon_query, get_live_coupon, live_coupons, resolve_coupon
from flask_stripe_billing.coupons.verbs import create_coupon, delete_coupon, update_coupon
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import StripeCoupon, StripeSubscription, StripeSubscriptionPlan
from flask_stripe_billing.subscriptions.verbs import subscribe
from flask_stripe_billing.testing import create_card_token, send_webhook
from tests import hostapp
from tests.factories.signals import signals_with_committed_state
from tests.factories.webhooks import send_event
from tests.stripe_openapi.http_client import ValidatingHTTPClient


@pytest.fixture
def synced() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """coupon_synced signals, with whether the row as sent was committed when the signal arrived."""

    def committed(connection: sa.Connection, coupon: StripeCoupon) -> bool:
        stored = connection.execute(sa.select(StripeCoupon.is_deleted).where(StripeCoupon.id == coupon.id)).scalar()
        return stored is not None and stored == coupon.is_deleted

    with signals_with_committed_state({signals.coupon_synced: "synced"}, committed) as seen:
        yield seen


def coupon_events(synced: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, bool]]:
    """(coupon id, action, whether the row as sent was committed) of each coupon_synced signal."""
    return [(kwargs["instance"].coupon_id, kwargs["action"], kwargs["committed"]) for _, kwargs in synced]


def count(db: SQLAlchemy) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(StripeCoupon)) or 0)


def at_stripe(coupon_id: str) -> dict[str, Any]:
    return get_state().gateway.request("get", f"/v1/coupons/{coupon_id}")


def test_create_percent_off(
    app: Flask, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]], stripe_http: ValidatingHTTPClient
) -> None:
    coupon = create_coupon(coupon_id="SPRING", percent_off="25.5", duration="forever", metadata={"campaign": "spring"})
    assert coupon.percent_off == decimal.Decimal("25.5")
    assert coupon.is_created_at_stripe
    assert coupon.is_live
    assert coupon.created is not None
    assert coupon.metadata_ == {"campaign": "spring"}
    request = stripe_http.last("POST", "/v1/coupons")
    assert request.params["percent_off"] == 25.5
    assert request.idempotency_key == coupon.idempotency_key
    assert at_stripe("SPRING")["percent_off"] == 25.5
    db.session.expire_all()
    assert db.session.get(StripeCoupon, coupon.id).percent_off == decimal.Decimal("25.50")  # type: ignore[union-attr]
    assert coupon_events(synced) == [("SPRING", "created", True)]


def test_create_amount_off_repeating(app: Flask, db: SQLAlchemy) -> None:
    coupon = create_coupon(coupon_id="FIVE", amount_off=500, currency="eur", duration="repeating", duration_in_months=3)
    assert (coupon.amount_off, coupon.currency, coupon.duration, coupon.duration_in_months) == (
        500,
        "eur",
        "repeating",
        3,
    )
    data = at_stripe("FIVE")
    assert (data["amount_off"], data["currency"], data["duration_in_months"]) == (500, "eur", 3)


def test_a_random_id_is_chosen(app: Flask, db: SQLAlchemy) -> None:
    coupon = create_coupon(percent_off=10)
    assert coupon.coupon_id.startswith("FSB")
    assert at_stripe(coupon.coupon_id)["percent_off"] == 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"percent_off": 10, "amount_off": 100, "currency": "usd"}, "exactly one"),
        ({"duration": "once"}, "exactly one"),
        ({"amount_off": 100}, "needs a currency"),
        ({"amount_off": 0, "currency": "usd"}, "positive integer"),
        ({"amount_off": 1.5, "currency": "usd"}, "positive integer"),
        ({"percent_off": 0}, "more than 0"),
        ({"percent_off": 101}, "at most 100"),
        ({"percent_off": "12.345"}, "two decimals"),
        ({"percent_off": "lots"}, "must be a number"),
        ({"percent_off": 10, "currency": "usd"}, "currency goes with amount_off"),
        ({"percent_off": 10, "duration": "repeating"}, "needs duration_in_months"),
        ({"percent_off": 10, "duration_in_months": 3}, "goes with duration"),
        ({"percent_off": 10, "duration": "weekly"}, "duration must be"),
        ({"percent_off": 10, "max_redemptions": 0}, "max_redemptions"),
        ({"percent_off": 10, "redeem_by": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}, "redeem_by"),
        ({"percent_off": 10, "coupon_id": "has space"}, "coupon_id"),
        ({"percent_off": 10, "colour": "red"}, "Unknown coupon field"),
    ],
)
def test_bad_input_is_refused_before_stripe(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient, fields: dict[str, Any], message: str
) -> None:
    stripe_http.clear()
    with pytest.raises(errors.CouponError, match=message):
        create_coupon(**fields)
    assert not stripe_http.requests
    assert count(db) == 0


def test_a_live_id_cannot_be_taken_twice(app: Flask, db: SQLAlchemy) -> None:
    create_coupon(coupon_id="ONCE", percent_off=10)
    with pytest.raises(errors.CouponError, match="already used"):
        create_coupon(coupon_id="ONCE", percent_off=20)
    assert count(db) == 1


def test_a_refused_coupon_leaves_no_row(app: Flask, db: SQLAlchemy) -> None:
    # Made at Stripe behind our back: Stripe refuses the id, and our row goes again.
    get_state().gateway.request(
        "post", "/v1/coupons", {"id": "TAKEN", "percent_off": 5, "duration": "once"}, object_type="t", action="c"
    )
    with pytest.raises(errors.StripeRequestError, match="Conflict") as refused:
        create_coupon(coupon_id="TAKEN", percent_off=10)
    # The offline Stripe answers a taken id with a 409 "Conflict", which is no more specific kind of refusal.
    assert (type(refused.value), refused.value.http_status) == (errors.StripeRequestError, 409)
    assert count(db) == 0


def test_update_metadata(app: Flask, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]]) -> None:
    coupon = create_coupon(coupon_id="META", percent_off=10, metadata={"a": "1"})
    update_coupon(coupon, metadata={"a": "2", "b": "3"})
    assert at_stripe("META")["metadata"] == {"a": "2", "b": "3"}
    assert coupon.metadata_ == {"a": "2", "b": "3"}
    assert coupon_events(synced)[-1] == ("META", "updated", True)


def test_immutable_fields_are_refused_not_reverted(
    app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient
) -> None:
    coupon = create_coupon(coupon_id="FIXED", percent_off=10)
    stripe_http.clear()
    with pytest.raises(errors.CouponError, match="percent_off cannot change"):
        update_coupon(coupon, percent_off=20)
    with pytest.raises(errors.CouponError, match="duration cannot change"):
        coupon.duration = "forever"
    with pytest.raises(errors.CouponError, match="percent_off cannot change"):
        coupon.percent_off = decimal.Decimal("20")
    coupon.percent_off = decimal.Decimal("10.00")  # the same value is no change
    assert not stripe_http.requests
    db.session.commit()
    db.session.expire_all()
    assert coupon.percent_off == decimal.Decimal("10")
    assert coupon.duration == "once"


def test_delete_is_soft_and_the_id_can_be_reused(
    app: Flask, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]]
) -> None:
    old = create_coupon(coupon_id="REUSE", percent_off=10)
    delete_coupon(old)
    assert old.is_deleted
    with pytest.raises(errors.InvalidRequestError):
        at_stripe("REUSE")
    assert list(db.session.scalars(live_coupons())) == []
    assert list(db.session.scalars(coupon_query(include_deleted=True))) == [old]
    assert get_live_coupon("REUSE") is None
    assert delete_coupon(old) is old  # twice is fine

    new = create_coupon(coupon_id="REUSE", amount_off=300, currency="usd")
    assert new.id != old.id
    assert get_live_coupon("REUSE") is new
    assert [action for _, action, _ in coupon_events(synced)] == ["created", "deleted", "created"]
    assert all(committed for _, _, committed in coupon_events(synced))
    with pytest.raises(errors.CouponError, match="deleted"):
        update_coupon(old, metadata={"x": "y"})


def test_refresh_coupons_reconciles_past_one_page(
    app: Flask, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]]
) -> None:
    gateway = get_state().gateway
    kept = create_coupon(coupon_id="KEPT", percent_off=10)
    being_created = StripeCoupon(coupon_id="UNDERWAY", percent_off=10)  # its creation's answer not in yet
    db.session.add(being_created)
    db.session.commit()
    changed = create_coupon(coupon_id="CHANGED", percent_off=10)
    gone = create_coupon(coupon_id="GONE", percent_off=10)
    gateway.request("post", "/v1/coupons/CHANGED", {"metadata": {"new": "yes"}}, object_type="t", action="u")
    gateway.request("delete", "/v1/coupons/GONE", object_type="t", action="d")
    for number in range(105):  # made in the Dashboard: more than one page of 100
        gateway.request(
            "post",
            "/v1/coupons",
            {"id": f"DASH{number}", "amount_off": 100, "currency": "usd", "duration": "once"},
            object_type="t",
            action="c",
        )
    synced.clear()
    result = app.test_cli_runner().invoke(args=["stripe", "refresh-coupons"])
    assert result.exit_code == 0, result.output
    assert "Coupons: 105 created, 1 updated, 1 deleted, 1 unchanged; 0 failed." in result.output
    db.session.expire_all()
    assert gone.is_deleted
    assert not kept.is_deleted
    assert not being_created.is_deleted
    assert changed.metadata_ == {"new": "yes"}
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(StripeCoupon).where(StripeCoupon.is_deleted.is_(False))
        )
        == 108  # 105 from the Dashboard, KEPT, CHANGED, and UNDERWAY still being created
    )
    assert len(synced) == 107
    dash = get_live_coupon("DASH7")
    assert dash is not None
    assert dash.amount_off == 100
    assert dash.currency == "usd"
    assert dash.is_created_at_stripe
    result = app.test_cli_runner().invoke(args=["stripe", "refresh-coupons"])
    assert "Coupons: 0 created, 0 updated, 0 deleted, 107 unchanged; 0 failed." in result.output


# --- webhooks -----------------------------------------------------------------------------------------------


def test_dashboard_changes_arrive_by_webhook(
    app: Flask, client: FlaskClient, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]]
) -> None:
    now = int(time.time())
    obj = {"id": "DASH", "object": "coupon", "percent_off": 15.0, "duration": "once", "created": now, "valid": True}
    send_event(client, "coupon.created", obj, created=now)
    coupon = get_live_coupon("DASH")
    assert coupon is not None
    assert coupon.percent_off == decimal.Decimal("15")
    send_event(client, "coupon.updated", {**obj, "name": "Fifteen", "metadata": {"k": "v"}}, created=now + 2)
    send_event(client, "coupon.updated", {**obj, "name": "Stale"}, created=now - 60)  # older: ignored
    db.session.expire_all()
    assert coupon.name == "Fifteen"
    assert coupon.metadata_ == {"k": "v"}
    send_event(client, "coupon.deleted", obj, created=now + 3)
    db.session.expire_all()
    assert coupon.is_deleted
    assert coupon_events(synced) == [("DASH", "created", True), ("DASH", "updated", True), ("DASH", "deleted", True)]


def test_our_own_coupon_created_event_changes_nothing(
    app: Flask, client: FlaskClient, db: SQLAlchemy, synced: list[tuple[str, dict[str, Any]]]
) -> None:
    coupon = create_coupon(coupon_id="OURS", percent_off=10)
    synced.clear()
    send_event(client, "coupon.created", at_stripe("OURS"))
    assert count(db) == 1
    assert synced == []
    assert get_live_coupon("OURS") is coupon


# --- coupons that can no longer be redeemed -----------------------------------------------------------------


def test_a_coupon_stripe_marks_invalid_is_refused(app: Flask, client: FlaskClient, db: SQLAlchemy) -> None:
    coupon = create_coupon(coupon_id="ONCEONLY", percent_off=10)
    assert resolve_coupon("ONCEONLY") is coupon
    # Its one redemption is used: Stripe marks it invalid and says so.
    send_webhook(client, "coupon.updated", {**at_stripe("ONCEONLY"), "times_redeemed": 1, "valid": False})
    assert coupon.valid is False

    for given in ("ONCEONLY", coupon):
        with pytest.raises(errors.SubscriptionError, match="'ONCEONLY' can no longer be redeemed"):
            resolve_coupon(given)
    # Sending again a request already sent with it (its outcome unknown) still may.
    assert resolve_coupon(coupon, redeeming=False) is coupon


def test_a_coupon_past_its_redeem_by_is_refused_before_stripe_says_so(
    app: Flask, client: FlaskClient, db: SQLAlchemy
) -> None:
    coupon = create_coupon(coupon_id="SPRING", percent_off=10)
    past = int(time.time()) - 60
    send_webhook(client, "coupon.updated", {**at_stripe("SPRING"), "redeem_by": past, "valid": True})
    assert coupon.redeem_by == dt.datetime.fromtimestamp(past, dt.UTC)
    with pytest.raises(errors.SubscriptionError, match="can no longer be redeemed"):
        resolve_coupon("SPRING")


def test_unknown_and_deleted_coupons_are_still_refused(app: Flask, db: SQLAlchemy) -> None:
    assert resolve_coupon(None) is None
    with pytest.raises(errors.SubscriptionError, match="No live coupon 'NOPE'"):
        resolve_coupon("NOPE")
    coupon = delete_coupon(create_coupon(coupon_id="GONE", percent_off=10))
    with pytest.raises(errors.SubscriptionError, match="deleted"):
        resolve_coupon(coupon, redeeming=False)


def test_subscribe_refuses_a_coupon_stripe_marks_invalid(
    app: Flask, client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    create_customer(user, create_card_token())
    plan = StripeSubscriptionPlan(name="Pro", amount=2000, currency="usd", interval="month")
    db.session.add(plan)
    db.session.commit()
    plan.create_at_stripe()
    create_coupon(coupon_id="USEDUP", percent_off=10)
    send_webhook(client, "coupon.updated", {**at_stripe("USEDUP"), "times_redeemed": 1, "valid": False})
    stripe_http.clear()

    with pytest.raises(errors.SubscriptionError, match="can no longer be redeemed"):
        subscribe(user, plan, coupon="USEDUP")
    assert [request for request in stripe_http.requests if request.method.upper() == "POST"] == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeSubscription)) == 0


# --- the JSON API -------------------------------------------------------------------------------------------


def test_api_shows_a_live_coupon(app: Flask, logged_in_client: FlaskClient, db: SQLAlchemy) -> None:
    coupon = create_coupon(coupon_id="API10", percent_off="12.5", duration="repeating", duration_in_months=2)
    response = logged_in_client.get("/billing/api/coupons/API10")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": "API10",
        "name": None,
        "percent_off": "12.50",
        "amount_off": None,
        "currency": None,
        "duration": "repeating",
        "duration_in_months": 2,
        "redeem_by": None,
        "valid": True,
    }
    delete_coupon(coupon)
    assert logged_in_client.get("/billing/api/coupons/API10").status_code == 404
    assert logged_in_client.get("/billing/api/coupons/NOPE").status_code == 404
    for not_an_id in ("A%00B", "A%01B", "A" * 300):  # a NUL byte would make PostgreSQL refuse the query
        assert logged_in_client.get(f"/billing/api/coupons/{not_an_id}").status_code == 404


def test_api_needs_a_login(app: Flask, client: FlaskClient) -> None:
    assert client.get("/billing/api/coupons/ANY").status_code == 401

"""``flask stripe refresh-plans``: every active recurring price at Stripe becomes or updates a plan, over many
pages; archived and vanished prices deactivate theirs; one-time prices are counted apart; a bad price is a
counted failure, not a traceback."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import StripeSubscriptionPlan
from tests import hostapp
from tests.factories.plans import dashboard_price, price_object, serve_prices
from tests.factories.subscriptions import created_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import StripeStub, stripe_error


def plans_by_price(db: SQLAlchemy) -> dict[str | None, StripeSubscriptionPlan]:
    db.session.expire_all()
    return {plan.stripe_price_id: plan for plan in db.session.scalars(sa.select(StripeSubscriptionPlan))}


def test_refresh_plans_reads_every_page(app: Flask, db: SQLAlchemy, stripe_http: ValidatingHTTPClient) -> None:
    gateway = get_state().gateway
    known = created_plan(db, lookup_key="pro")
    renamed = created_plan(db, name="Old name", amount=9000, interval="year")
    archived = created_plan(db, name="Retired", amount=500)
    vanished = StripeSubscriptionPlan(
        name="Gone",
        amount=100,
        currency="usd",
        interval="month",
        stripe_price_id="price_gone",
        is_created_at_stripe=True,
    )
    underway = StripeSubscriptionPlan(name="Underway", amount=100, currency="usd", lookup_key="fsb_underway")
    db.session.add_all([vanished, underway])
    db.session.commit()
    gateway.request(
        "post", f"/v1/products/{renamed.stripe_product_id}", {"name": "Pro yearly"}, object_type="t", action="u"
    )
    gateway.request("post", f"/v1/prices/{archived.stripe_price_id}", {"active": False}, object_type="t", action="u")
    made = [dashboard_price(1000 + n, product_name=f"Dashboard {n}", lookup_key=f"dash_{n}") for n in range(6)]
    dashboard_price(300, interval=None)  # one-time: not a plan
    stripe_http.clear()

    result = app.test_cli_runner().invoke(args=["stripe", "refresh-plans", "--page-size", "3"])

    assert result.exit_code == 0, result.output
    assert (
        "Plans: 6 created, 1 updated, 2 deactivated, 1 unchanged; 1 price(s) skipped (one-time or tiered); 0 failed."
        in result.output
    )
    pages = [
        request for request in stripe_http.requests if (request.method, request.templated_path) == ("GET", "/v1/prices")
    ]
    assert len(pages) == 4  # ten prices, three a page
    assert all(page.params["limit"] == 3 for page in pages)
    assert [bool(page.params.get("starting_after")) for page in pages] == [False, True, True, True]
    plans = plans_by_price(db)
    for number, price in enumerate(made):
        plan = plans[price["id"]]
        assert (plan.name, plan.amount, plan.lookup_key, plan.active) == (
            f"Dashboard {number}",
            1000 + number,
            f"dash_{number}",
            True,
        )
    assert plans[renamed.stripe_price_id].name == "Pro yearly"
    assert plans[known.stripe_price_id].active
    assert not plans[archived.stripe_price_id].active
    assert not plans["price_gone"].active
    assert plans[None].name == "Underway"  # its creation is under way: not missing at Stripe
    assert plans[None].active

    again = app.test_cli_runner().invoke(args=["stripe", "refresh-plans"])
    assert "Plans: 0 created, 0 updated, 0 deactivated, 9 unchanged; 1 price(s) skipped" in again.output


def test_a_bad_price_is_a_counted_failure(stub_app: Flask, stub: StripeStub) -> None:
    serve_prices(stub)
    good = price_object("price_good", product={"id": "prod_good", "object": "product", "name": "Good"})
    bad = price_object("price_bad", recurring={"interval": "fortnight", "interval_count": 1})

    def listing(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"object": "list", "data": [bad, good], "has_more": False, "url": "/v1/prices"}

    stub.on("GET", "/v1/prices", listing)
    result = stub_app.test_cli_runner().invoke(args=["stripe", "refresh-plans"])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # reported, not a traceback
    assert (
        "Plans: 1 created, 0 updated, 0 deactivated, 0 unchanged; 0 price(s) skipped (one-time or tiered); 1 failed."
        in result.output
    )
    assert "price price_bad: PlanError:" in result.stderr
    assert "fortnight" in result.stderr
    assert set(plans_by_price(hostapp.db)) == {"price_good"}


def test_an_unreadable_list_exits_1_with_one_line(stub_app: Flask, stub: StripeStub) -> None:
    stub.on("GET", "/v1/prices", lambda params, stored: stripe_error(401, "Invalid API Key provided."))
    result = stub_app.test_cli_runner().invoke(args=["stripe", "refresh-plans"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "price list: AuthenticationError" in result.stderr

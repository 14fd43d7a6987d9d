"""The subscription gate on a whole app or blueprint: ``require_subscription``, every exemption form, what is
always exempt, a billing blueprint registered under another name."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.web.blueprint import create_blueprint
from flask_stripe_billing.web.gate import require_subscription
from tests import hostapp
from tests.factories.apps import log_in, make_user, running_app
from tests.factories.gate import page, subscribe_row
from tests.stripe_openapi.http_client import ValidatingHTTPClient


def gated_app(app: Flask, exemptions: tuple[str, ...], *, debug: bool = False) -> Flask:
    """*app* gated as a whole with *exemptions*, with views in blueprints and at application level."""
    state = get_state(app)
    # The key is read at init_app; replace the validated configuration the way a new init_app would.
    state.config = dataclasses.replace(state.config, subscription_required_exempt_urls=exemptions)
    app.debug = debug
    app.add_url_rule("/home", "home", page("home"))
    app.add_url_rule("/about", "about", page("about"))
    docs = Blueprint("docs", __name__)
    docs.add_url_rule("/docs/a", "a", page("docs-a"))
    docs.add_url_rule("/docs/b", "b", page("docs-b"))
    nested = Blueprint("nested", __name__)
    nested.add_url_rule("/docs/nested", "n", page("nested"))
    docs.register_blueprint(nested)
    shop = Blueprint("shop", __name__)
    shop.add_url_rule("/shop/cart", "cart", page("cart"))
    shop.add_url_rule("/shop/pay", "pay", page("pay"))
    toolbar = Blueprint("debugtoolbar", __name__)
    toolbar.add_url_rule("/_debug_toolbar/x", "x", page("toolbar"))
    for blueprint in (docs, shop, toolbar):
        app.register_blueprint(blueprint)
    require_subscription(app)
    return app


def statuses(client: FlaskClient, *paths: str) -> dict[str, int]:
    return {path: client.get(path).status_code for path in paths}


ALL_PATHS = ("/home", "/about", "/docs/a", "/docs/b", "/docs/nested", "/shop/cart", "/shop/pay")


@pytest.mark.parametrize(
    ("exemptions", "open_paths"),
    [
        ((), set()),
        (("(docs)",), {"/docs/a", "/docs/b", "/docs/nested"}),
        (("[docs]",), {"/docs/a", "/docs/b", "/docs/nested"}),
        (("docs.nested",), set()),  # a nested blueprint's endpoint is "docs.nested.n"
        (("(docs.nested)",), {"/docs/nested"}),
        (("shop.pay",), {"/shop/pay"}),
        (("home",), {"/home"}),
        ((" home ", "[shop]"), {"/home", "/shop/cart", "/shop/pay"}),
        (("pay",), set()),  # "view" is an application-level endpoint, not any blueprint's view
    ],
)
def test_exemption_forms(
    app: Flask, logged_in_client: FlaskClient, exemptions: tuple[str, ...], open_paths: set[str]
) -> None:
    gated_app(app, exemptions)

    seen = statuses(logged_in_client, *ALL_PATHS)

    assert {path for path, status in seen.items() if status == 200} == open_paths
    assert {status for path, status in seen.items() if path not in open_paths} <= {302}


def test_always_exempt_billing_blueprint_static_files_and_unknown_urls(
    app: Flask, logged_in_client: FlaskClient
) -> None:
    gated_app(app, ())

    assert logged_in_client.get("/billing/api/customers/cus_nobody").status_code == 404  # not a redirect
    with logged_in_client.get("/billing/static/stripe_billing/billing.css") as response:
        assert response.status_code == 200
    assert logged_in_client.get("/static/nothing.css").status_code == 404
    assert logged_in_client.get("/no/such/page").status_code == 404


@pytest.mark.parametrize(("debug", "expected"), [(True, 200), (False, 302)])
def test_debug_toolbar_is_exempt_only_in_debug(
    app: Flask, logged_in_client: FlaskClient, debug: bool, expected: int
) -> None:
    gated_app(app, (), debug=debug)
    assert logged_in_client.get("/_debug_toolbar/x").status_code == expected


def test_anonymous_visitors_of_a_gated_app_are_asked_to_log_in(app: Flask, client: FlaskClient) -> None:
    gated_app(app, ("about",))
    assert client.get("/home").status_code == 401
    assert client.get("/about").status_code == 200


def test_payers_pass_a_gated_app(app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient) -> None:
    gated_app(app, ())
    subscribe_row(db, user, "active")
    assert set(statuses(logged_in_client, *ALL_PATHS).values()) == {200}


def test_a_gated_blueprint_leaves_the_rest_open(app: Flask, logged_in_client: FlaskClient) -> None:
    members = Blueprint("members", __name__)
    members.add_url_rule("/members", "index", page("members"))
    require_subscription(members)
    app.register_blueprint(members)
    app.add_url_rule("/open", "open", page("open"))

    assert logged_in_client.get("/members").status_code == 302
    assert logged_in_client.get("/open").status_code == 200


def test_a_billing_blueprint_registered_under_another_name_is_found(
    database_url: str, stripe_test_config: dict[str, Any], stripe_http: ValidatingHTTPClient
) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url}
    with running_app(config, http_client=stripe_http, register_blueprint=False) as application:
        application.register_blueprint(create_blueprint(), name="payments", url_prefix="/money")
        require_subscription(application)
        application.add_url_rule("/home", "home", page("home"))
        client = log_in(application.test_client(), make_user(hostapp.db))

        assert client.get("/home").location == "/money/plans?next=/home"
        assert client.get("/money/plans").status_code == 200  # exempt, and its links work under the new name

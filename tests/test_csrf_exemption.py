"""A host that turns on Flask-WTF's ``CSRFProtect``, before or after the extension: the webhook still takes
Stripe's signed events, the JSON API still answers JSON callers, and everything else stays protected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from flask_stripe_billing import StripeBilling
from flask_stripe_billing.models import WebhookStatus
from flask_stripe_billing.testing import send_webhook
from flask_stripe_billing.web.csrf import EXEMPT_VIEWS
from tests import hostapp
from tests.factories.apps import reset_database
from tests.factories.webhooks import stored
from tests.stripe_openapi.http_client import ValidatingHTTPClient


@pytest.fixture(params=["csrf-before", "csrf-after"])
def csrf_app(
    request: pytest.FixtureRequest,
    database_url: str,
    stripe_test_config: dict[str, Any],
    stripe_http: ValidatingHTTPClient,
) -> Iterator[Flask]:
    """A host app with ``CSRFProtect`` set up before, or after, flask-stripe-billing."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret", TESTING=True, SQLALCHEMY_DATABASE_URI=database_url, **stripe_test_config
    )
    csrf = CSRFProtect()
    if request.param == "csrf-before":
        csrf.init_app(app)
    hostapp.db.init_app(app)
    hostapp.login.init_app(app)
    StripeBilling().init_app(app, db=hostapp.db, subscriber_model=hostapp.User, http_client=stripe_http)
    if request.param == "csrf-after":
        csrf.init_app(app)

    @app.post("/host-form")
    def host_form() -> str:
        return "saved"

    with app.app_context():
        reset_database(hostapp.db)
        yield app
        hostapp.db.session.remove()
        hostapp.db.engine.dispose()


@pytest.fixture
def logged_in(csrf_app: Flask) -> FlaskClient:
    user = hostapp.User(email="ada@example.com")
    hostapp.db.session.add(user)
    hostapp.db.session.commit()
    client = csrf_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return client


def test_signed_webhook_needs_no_csrf_token(csrf_app: Flask) -> None:
    response = send_webhook(csrf_app, "ping", {})
    assert response.status_code == 200, response.data
    assert [hook.status for hook in stored(hostapp.db)] == [WebhookStatus.PROCESSED]


def test_unsigned_webhook_is_still_refused_by_its_signature_check(csrf_app: Flask) -> None:
    response = csrf_app.test_client().post("/billing/webhooks", data=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None
    assert "Stripe-Signature" in response.json["error"]


def test_host_views_stay_protected(csrf_app: Flask) -> None:
    assert csrf_app.test_client().post("/host-form", data={"name": "x"}).status_code == 400


def test_json_api_answers_json_callers_without_a_token(logged_in: FlaskClient) -> None:
    response = logged_in.post("/billing/api/customers", json={})
    assert response.status_code == 400
    assert response.json is not None
    assert "errors" in response.json  # our validation answered, not CSRFProtect


def test_json_api_still_refuses_a_cross_site_form(logged_in: FlaskClient) -> None:
    response = logged_in.post("/billing/api/customers", data={"token": "tok_visa"})
    assert response.status_code in (400, 415)
    assert not (response.is_json and response.json and "customer" in response.json)


def test_every_json_api_view_that_writes_is_exempted(csrf_app: Flask) -> None:
    writing = {
        f"{view.__module__}.{view.__name__}"
        for rule in csrf_app.url_map.iter_rules()
        if (rule.endpoint.startswith("stripe_billing.api_") or rule.endpoint == "stripe_billing.webhook")
        and set(rule.methods or ()) - {"GET", "HEAD", "OPTIONS"}
        for view in [csrf_app.view_functions[rule.endpoint]]
    }
    assert writing == set(EXEMPT_VIEWS)

"""The billing pages in a host's hands: its own templates, another URL prefix, Flask-WTF's CSRF protection."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from tests import hostapp
from tests.factories.apps import log_in, make_user, running_app
from tests.factories.cards import make_payment_method
from tests.factories.pages import csrf_token

# -- hosts: templates, prefix, Flask-WTF ------------------------------------------------------------------------


def test_a_host_overrides_a_template_by_placing_a_file_at_the_same_path(
    app: Flask, logged_in_client: FlaskClient, tmp_path: Any
) -> None:
    folder = tmp_path / "templates" / "stripe_billing"
    folder.mkdir(parents=True)
    (folder / "base.html").write_text("<html><body>HOST LAYOUT {% block content %}{% endblock %}</body></html>")
    app.template_folder = str(tmp_path / "templates")

    html = logged_in_client.get("/billing/account").text

    assert html.startswith("<html><body>HOST LAYOUT")
    assert "Your billing account" in html


def test_the_pages_can_be_mounted_at_another_prefix(
    database_url: str, stripe_test_config: dict[str, Any], stripe_http: Any
) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_URL_PREFIX": "/money"}
    with running_app(config, http_client=stripe_http) as application:
        client = log_in(application.test_client(), make_user(hostapp.db))

        html = client.get("/money/account").text

        assert "/money/plans" in html
        assert "/money/static/stripe_billing/billing.css" in html
        assert client.get("/billing/account").status_code == 404


def test_with_flask_wtf_csrf_protect_its_token_is_used(
    app: Flask, db: SQLAlchemy, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    token = csrf_token(logged_in_client)
    with logged_in_client.session_transaction() as session:
        assert "csrf_token" in session  # Flask-WTF's, not ours
        assert "_stripe_billing_csrf" not in session

    refused = logged_in_client.post("/billing/card", data={"payment_method": make_payment_method()})
    accepted = logged_in_client.post(
        "/billing/card", data={"csrf_token": token, "payment_method": make_payment_method()}
    )
    api_with_header = logged_in_client.post("/billing/api/setup-intents", json={}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400
    assert accepted.status_code == 302
    assert api_with_header.status_code == 201  # what the card page's script sends


def test_with_flask_wtf_the_webhook_route_stays_reachable(app: Flask, client: FlaskClient) -> None:
    from flask_wtf.csrf import CSRFProtect

    from flask_stripe_billing.testing import send_webhook

    CSRFProtect(app)

    response = send_webhook(client, "customer.created", {"id": "cus_x", "object": "customer", "email": "a@b.c"})

    assert response.status_code == 200


def test_with_flask_wtf_disabled_by_the_host_forms_need_no_token(
    app: Flask, user: hostapp.User, logged_in_client: FlaskClient
) -> None:
    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    app.config["WTF_CSRF_ENABLED"] = False

    response = logged_in_client.post("/billing/card", data={"payment_method": make_payment_method()})

    assert response.status_code == 302

"""The example app starts and shows its plans and the offline Stripe's status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from example_app import create_app
from tests.stripe_openapi.http_client import ValidatingHTTPClient


def test_home_lists_plans_and_stripe_status(
    tmp_path: Path, stripe_config: dict[str, Any], stripe_http: ValidatingHTTPClient
) -> None:
    from example_app import billing

    billing._http_client = stripe_http
    app = create_app({**stripe_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.sqlite'}"})
    page = app.test_client().get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "reachable" in text
    assert "Pro yearly" in text
    assert "290.00 USD / year" in text
    assert stripe_config["STRIPE_API_KEY"] not in text

"""The offline Stripe's Customer Portal: configurations and sessions in Stripe's shapes, and the hosted page whose
changes go through the offline Stripe's own objects and send the events Stripe sends."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from flask_stripe_billing.offline import OfflineStripe
from tests.factories.hosted_pages import (
    WebhookSink,
    confirm_card,
    customer_with_card,
    fetch,
    page_setup_intent,
    product_and_price,
    submit,
)
from tests.stripe_openapi.objects import load_fixtures

RETURN = "https://shop.example/account"


@pytest.fixture
def client(offline_client: stripe.StripeClient) -> stripe.StripeClient:
    return offline_client


@pytest.fixture
def catalogue(client: stripe.StripeClient) -> dict[str, str]:
    """A product with a monthly Basic ($10) and Premium ($30) price, and another product's price."""
    product, basic = product_and_price(client, "Team", 1000)
    premium = product_and_price(client, "Team", 3000, product=product)[1]
    other = product_and_price(client, "Other", 500)[1]
    return {"product": product, "basic": basic, "premium": premium, "other": other}


@pytest.fixture
def subscribed(client: stripe.StripeClient, catalogue: dict[str, str]) -> dict[str, Any]:
    """A customer with a card and a subscription to 2 seats of Basic."""
    customer = customer_with_card(client)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": catalogue["basic"], "quantity": 2}]}
    )
    assert subscription.status == "active"
    return {"customer": customer, "subscription": subscription.id, **catalogue}


def configuration(client: stripe.StripeClient, catalogue: dict[str, str], **features: Any) -> Any:
    update = {
        "enabled": True,
        "default_allowed_updates": ["price", "quantity"],
        "products": [{"product": catalogue["product"], "prices": [catalogue["basic"], catalogue["premium"]]}],
        "proration_behavior": "none",
    }
    params = {
        "business_profile": {"headline": "Team plans"},
        "features": {
            "subscription_update": update,
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "payment_method_update": {"enabled": True},
            **features,
        },
    }
    return client.v1.billing_portal.configurations.create(params=params)  # type: ignore[arg-type]


def portal(client: stripe.StripeClient, customer: str, config: Any = None) -> Any:
    params: dict[str, Any] = {"customer": customer, "return_url": RETURN}
    if config is not None:
        params["configuration"] = config.id
    return client.v1.billing_portal.sessions.create(params=params)  # type: ignore[arg-type]


def item(client: stripe.StripeClient, subscription_id: str) -> Any:
    return client.v1.subscriptions.retrieve(subscription_id)["items"].data[0]


def test_configurations_are_kept_updated_and_listed(client: stripe.StripeClient, catalogue: dict[str, str]) -> None:
    made = configuration(client, catalogue)
    assert (made.object, made.active, made.is_default) == ("billing_portal.configuration", True, False)
    update = made.features.subscription_update
    assert (update.enabled, update.default_allowed_updates, update.proration_behavior) == (
        True,
        ["price", "quantity"],
        "none",
    )
    assert [(p.product, p.prices) for p in update.products or []] == [
        (catalogue["product"], [catalogue["basic"], catalogue["premium"]])
    ]
    assert made.features.subscription_cancel.mode == "at_period_end"
    assert made.business_profile.headline == "Team plans"
    changed = client.v1.billing_portal.configurations.update(
        made.id, params={"default_return_url": RETURN, "features": {"subscription_cancel": {"mode": "immediately"}}}
    )
    assert (changed.default_return_url, changed.features.subscription_cancel.mode) == (RETURN, "immediately")
    assert changed.features.subscription_update.enabled
    assert client.v1.billing_portal.configurations.retrieve(made.id).default_return_url == RETURN
    defaults = client.v1.billing_portal.configurations.list(params={"is_default": True}).data
    assert len(defaults) == 1
    assert defaults[0].features.payment_method_update.enabled
    assert not defaults[0].features.subscription_update.enabled
    listed = [c.id for c in client.v1.billing_portal.configurations.list(params={"is_default": False}).data]
    assert listed == [made.id]


@pytest.mark.parametrize(
    ("features", "param"),
    [
        ({"subscription_update": {"enabled": True, "default_allowed_updates": ["price"]}}, "products"),
        ({"subscription_cancel": {"enabled": True, "mode": "sometimes"}}, "[mode]"),
        ({"subscription_update": {"enabled": False, "products": [{"product": "PRODUCT", "prices": ["OTHER"]}]}}, "[0]"),
        ({"dark_mode": {"enabled": True}}, "features[dark_mode]"),
    ],
)
def test_configurations_are_refused_as_stripe_refuses(
    client: stripe.StripeClient, catalogue: dict[str, str], features: dict[str, Any], param: str
) -> None:
    update = features.get("subscription_update", {})
    for entry in update.get("products", []):
        entry["product"], entry["prices"] = catalogue["product"], [catalogue["other"]]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.configurations.create(params={"features": features})  # type: ignore[arg-type]
    assert param in str(caught.value.param)


def test_sessions_point_at_the_portal(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    customer = customer_with_card(client)
    created = portal(client, customer)
    assert created.object == "billing_portal.session"
    assert (created.customer, created.return_url) == (customer, RETURN)
    assert created.url == f"{offline_stripe.url}/portal/{created.id}"
    default = client.v1.billing_portal.configurations.list(params={"is_default": True}).data[0]
    assert created.configuration == default.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"customer": customer})
    assert caught.value.param == "return_url"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"customer": "cus_nope", "return_url": RETURN})
    assert caught.value.code == "resource_missing"


def test_the_page_shows_subscriptions_and_the_card(client: stripe.StripeClient, subscribed: dict[str, Any]) -> None:
    created = portal(client, subscribed["customer"], configuration(client, subscribed))
    status, _, page = fetch(created.url)
    assert status == 200
    assert "Team plans" in page
    assert "Billing for ada@example.com" in page
    assert "$20.00" in page  # 2 seats of $10.00
    assert "per month · Qty 2" in page
    assert ">Active<" in page
    assert "Renews on " in page
    assert "•••• 4242" in page
    assert f'href="{RETURN}"' in page
    assert "Return to shop.example" in page
    assert "Update plan" in page
    assert "Update quantity" in page
    assert "Cancel plan" in page
    assert "/js.stripe.com/v3/" in page


def test_switching_price_and_quantity_sends_subscription_updated(
    offline_stripe: OfflineStripe, client: stripe.StripeClient, subscribed: dict[str, Any]
) -> None:
    created = portal(client, subscribed["customer"], configuration(client, subscribed))
    action = f"{created.url}/subscriptions/{subscribed['subscription']}/update"
    with WebhookSink(offline_stripe, ["customer.subscription.updated"]) as sink:
        assert submit(action, {"price": subscribed["premium"]}) == (303, f"/portal/{created.id}?done=updated")
        switched = item(client, subscribed["subscription"])
        assert (switched.price.id, switched.quantity) == (subscribed["premium"], 2)
        sink.wait_for(
            "customer.subscription.updated",
            subscribed["subscription"],
            lambda obj: obj["items"]["data"][0]["price"]["id"] == subscribed["premium"],
        )
    assert submit(action, {"quantity": "5"})[0] == 303
    assert (item(client, subscribed["subscription"]).quantity, item(client, subscribed["subscription"]).price.id) == (
        5,
        subscribed["premium"],
    )
    assert "Your plan was updated." in fetch(f"{created.url}?done=updated")[2]


def test_cancel_at_period_end_and_renew(
    offline_stripe: OfflineStripe, client: stripe.StripeClient, subscribed: dict[str, Any]
) -> None:
    created = portal(client, subscribed["customer"], configuration(client, subscribed))
    base = f"{created.url}/subscriptions/{subscribed['subscription']}"
    with WebhookSink(offline_stripe, ["customer.subscription.updated"]) as sink:
        assert submit(f"{base}/cancel", {}) == (303, f"/portal/{created.id}?done=canceled")
        canceling = client.v1.subscriptions.retrieve(subscribed["subscription"])
        assert (canceling.status, canceling.cancel_at_period_end) == ("active", True)
        sink.wait_for(
            "customer.subscription.updated", subscribed["subscription"], lambda obj: obj["cancel_at_period_end"]
        )
    page = fetch(created.url)[2]
    assert "Your plan will be canceled on " in page
    assert "Renew plan" in page
    assert submit(f"{base}/cancel", {})[0] == 403
    assert submit(f"{base}/resume", {}) == (303, f"/portal/{created.id}?done=renewed")
    assert client.v1.subscriptions.retrieve(subscribed["subscription"]).cancel_at_period_end is False
    assert submit(f"{base}/resume", {})[0] == 400


def test_changing_the_card_makes_it_the_default(
    offline_stripe: OfflineStripe, client: stripe.StripeClient, subscribed: dict[str, Any]
) -> None:
    created = portal(client, subscribed["customer"])  # the default configuration lets the card change
    with WebhookSink(offline_stripe, ["customer.updated", "payment_method.attached"]) as sink:
        intent = page_setup_intent(f"{created.url}/setup_intent")
        status, confirmed = confirm_card(offline_stripe, intent, "4000002760003184")  # 3-D Secure, completed
        assert (status, confirmed["status"]) == (200, "succeeded")
        assert submit(f"{created.url}/payment_method", {"setup_intent": intent["id"]}) == (
            303,
            f"/portal/{created.id}?done=card",
        )
        customer = client.v1.customers.retrieve(subscribed["customer"])
        assert customer.invoice_settings is not None
        assert customer.invoice_settings.default_payment_method == confirmed["payment_method"]
        attached = sink.wait_for("payment_method.attached", confirmed["payment_method"])
        assert attached["data"]["object"]["customer"] == subscribed["customer"]
        new_default = confirmed["payment_method"]
        sink.wait_for(
            "customer.updated",
            subscribed["customer"],
            lambda obj: obj["invoice_settings"]["default_payment_method"] == new_default,
        )
    assert "•••• 3184" in fetch(created.url)[2]


def test_what_the_configuration_does_not_allow_is_refused(
    client: stripe.StripeClient, subscribed: dict[str, Any]
) -> None:
    default = portal(client, subscribed["customer"])  # no plan changes
    page = fetch(default.url)[2]
    assert "Update plan" not in page
    assert "Update quantity" not in page
    action = f"{default.url}/subscriptions/{subscribed['subscription']}/update"
    status, page = submit(action, {"price": subscribed["premium"]})
    assert status == 400
    assert "This plan is not available." in page
    assert submit(action, {"quantity": "3"})[0] == 400

    configured = portal(client, subscribed["customer"], configuration(client, subscribed))
    action = f"{configured.url}/subscriptions/{subscribed['subscription']}/update"
    assert submit(action, {"price": subscribed["other"]})[0] == 400
    assert submit(action, {"quantity": "lots"})[0] == 400
    assert submit(action, {"quantity": "0"})[0] == 400
    assert submit(f"{configured.url}/subscriptions/sub_nope/cancel", {})[0] == 404
    assert submit(f"{configured.url}/payment_method", {"setup_intent": "seti_nope"})[0] == 400
    status, _, page = fetch(configured.url.replace(configured.id, "bps_nope"))
    assert status == 404
    assert "Traceback" not in page
    assert item(client, subscribed["subscription"]).quantity == 2


def test_configurations_and_sessions_have_stripes_current_fields(client: stripe.StripeClient) -> None:
    created = portal(client, customer_with_card(client)).to_dict()
    default = client.v1.billing_portal.configurations.retrieve(created["configuration"]).to_dict()
    fixtures = load_fixtures()
    assert set(fixtures["billing_portal.session"]) <= set(created)
    assert set(fixtures["billing_portal.configuration"]) <= set(default)
    for name, feature in fixtures["billing_portal.configuration"]["features"].items():
        assert set(feature) <= set(default["features"][name]), name

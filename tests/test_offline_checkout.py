"""The offline Stripe's Checkout Sessions: the API in Stripe's shapes, and the hosted page that completes them."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from flask_stripe_billing.offline import OfflineStripe
from flask_stripe_billing.offline.hosted import day, interval, money
from tests.factories.hosted_pages import (
    DECLINED_ON_CHARGE,
    DECLINED_ON_SAVE,
    THREE_D_SECURE,
    WebhookSink,
    confirm_card,
    customer_with_card,
    fetch,
    page_setup_intent,
    pay_on_page,
    product_and_price,
    submit,
)
from tests.stripe_openapi.objects import load_fixtures

SUCCESS = "https://shop.example/done?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://shop.example/cart"


@pytest.fixture
def client(offline_client: stripe.StripeClient) -> stripe.StripeClient:
    return offline_client


def session(client: stripe.StripeClient, **params: Any) -> Any:
    params.setdefault("success_url", SUCCESS)
    params.setdefault("cancel_url", CANCEL)
    return client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]


def one_time(client: stripe.StripeClient, name: str = "T-shirt", amount: int = 1500) -> str:
    return product_and_price(client, name, amount, recurring=False)[1]


def monthly(client: stripe.StripeClient, name: str = "Pro", amount: int = 2000) -> str:
    return product_and_price(client, name, amount)[1]


def done_url(session_id: str) -> str:
    return SUCCESS.replace("{CHECKOUT_SESSION_ID}", session_id)


def test_payment_mode_takes_the_card_and_redirects_with_the_session_id(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    price = one_time(client)
    created = session(
        client,
        mode="payment",
        line_items=[{"price": price, "quantity": 2}],
        customer_creation="always",
        client_reference_id="order-7",
        metadata={"order": "7"},
        payment_intent_data={"metadata": {"order": "7"}, "description": "Order 7"},
    )
    assert (created.object, created.status, created.payment_status) == ("checkout.session", "open", "unpaid")
    assert (created.amount_subtotal, created.amount_total, created.currency) == (3000, 3000, "usd")
    assert created.payment_intent is None
    assert created.customer is None
    assert created.url == f"{offline_stripe.url}/checkout/pay/{created.id}"
    status, _, page = fetch(created.url)
    assert status == 200
    for shown in ("T-shirt", "Qty 2", "$30.00", ">Pay</button>", f'href="{CANCEL}"', "/js.stripe.com/v3/"):
        assert shown in page

    assert pay_on_page(offline_stripe, created.url, email="payer@example.com") == (303, done_url(created.id))

    done = client.v1.checkout.sessions.retrieve(created.id)
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert done.customer_details is not None
    assert done.customer_details.email == "payer@example.com"
    assert (done.client_reference_id, done.metadata and done.metadata.to_dict()) == ("order-7", {"order": "7"})
    intent = client.v1.payment_intents.retrieve(str(done.payment_intent))
    assert (intent.status, intent.amount, intent.customer) == ("succeeded", 3000, done.customer)
    assert intent.metadata.to_dict() == {"order": "7"}
    customer = client.v1.customers.retrieve(str(done.customer))
    assert customer.email == "payer@example.com"
    assert [s.id for s in client.v1.checkout.sessions.list(params={"payment_intent": intent.id}).data] == [done.id]
    assert [s.id for s in client.v1.checkout.sessions.list(params={"customer": customer.id}).data] == [done.id]
    finished = fetch(created.url)[2]
    assert "This payment is complete." in finished
    assert done_url(created.id) in finished


def test_payment_mode_takes_price_data_and_lists_line_items(client: stripe.StripeClient) -> None:
    created = session(
        client,
        mode="payment",
        line_items=[
            {"price_data": {"currency": "usd", "unit_amount": 1250, "product_data": {"name": "Mug"}}, "quantity": 3},
            {"price": product_and_price(client, "Poster", 500, recurring=False)[1], "quantity": 1},
        ],
    )
    assert (created.currency, created.amount_total) == ("usd", 4250)
    items = client.v1.checkout.sessions.line_items.list(created.id).data
    assert [(i.description, i.quantity, i.amount_subtotal, i.price.type) for i in items] == [
        ("Mug", 3, 3750, "one_time"),
        ("Poster", 1, 500, "one_time"),
    ]


def test_subscription_mode_with_a_trial_and_a_coupon(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    price = monthly(client)
    client.v1.coupons.create(params={"id": "HALF", "percent_off": 50, "duration": "forever"})
    created = session(
        client,
        mode="subscription",
        line_items=[{"price": price, "quantity": 1}],
        subscription_data={"trial_period_days": 14, "metadata": {"plan": "pro"}},
        discounts=[{"coupon": "HALF"}],
    )
    assert (created.amount_total, created.payment_status) == (0, "no_payment_required")
    assert created.discounts is not None
    assert created.discounts[0].coupon == "HALF"
    page = fetch(created.url)[2]
    for shown in ("Subscribe to Pro", "14 days free, then $20.00 per month", ">Subscribe<"):
        assert shown in page

    assert pay_on_page(offline_stripe, created.url, email="sub@example.com") == (303, done_url(created.id))

    done = client.v1.checkout.sessions.retrieve(created.id)
    assert (done.status, done.payment_status) == ("complete", "no_payment_required")
    subscription = client.v1.subscriptions.retrieve(str(done.subscription))
    assert (subscription.status, subscription.customer, subscription.metadata.to_dict()) == (
        "trialing",
        done.customer,
        {"plan": "pro"},
    )
    assert subscription.discount is not None
    assert subscription.discount.coupon.id == "HALF"
    assert subscription["items"].data[0].price.id == price
    customer = client.v1.customers.retrieve(str(done.customer))
    assert customer.invoice_settings is not None
    assert customer.invoice_settings.default_payment_method == subscription.default_payment_method
    assert [s.id for s in client.v1.checkout.sessions.list(params={"subscription": subscription.id}).data] == [done.id]


def test_a_subscription_is_paid_at_once_and_3d_secure_is_asked_once(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    created = session(client, mode="subscription", line_items=[{"price": monthly(client), "quantity": 3}])
    intent = page_setup_intent(f"{created.url}/setup_intent")
    status, confirmed = confirm_card(offline_stripe, intent, THREE_D_SECURE)  # the dialog's "Complete"
    assert (status, confirmed["status"]) == (200, "succeeded")
    assert submit(created.url, {"setup_intent": intent["id"], "email": "sca@example.com"}) == (
        303,
        done_url(created.id),
    )
    done = client.v1.checkout.sessions.retrieve(created.id, params={"expand": ["line_items", "subscription"]})
    assert (done.payment_status, done.amount_total) == ("paid", 6000)
    assert isinstance(done.subscription, stripe.Subscription)
    assert done.subscription.status == "active"
    assert done.line_items is not None
    assert done.line_items.data[0].quantity == 3
    subscription = done.subscription
    invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.status, invoice.amount_paid) == ("paid", 6000)


def test_a_3d_secure_card_pays_after_the_challenge(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    created = session(client, mode="payment", line_items=[{"price": one_time(client), "quantity": 1}])
    failed = page_setup_intent(f"{created.url}/setup_intent")
    _, refused = confirm_card(offline_stripe, failed, THREE_D_SECURE, authenticate=False)
    assert refused["status"] == "canceled"  # the page's script says authentication failed; nothing was paid
    assert client.v1.checkout.sessions.retrieve(created.id).status == "open"
    retry = page_setup_intent(f"{created.url}/setup_intent")
    assert retry["id"] != failed["id"]
    assert confirm_card(offline_stripe, retry, THREE_D_SECURE)[1]["status"] == "succeeded"
    assert submit(created.url, {"setup_intent": retry["id"], "email": "a@example.com"})[0] == 303
    done = client.v1.checkout.sessions.retrieve(created.id)
    assert done.payment_status == "paid"
    assert client.v1.payment_intents.retrieve(str(done.payment_intent)).status == "succeeded"


def test_declined_cards_show_stripes_message_and_the_session_stays_open(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    created = session(client, mode="payment", line_items=[{"price": one_time(client), "quantity": 1}])
    intent = page_setup_intent(f"{created.url}/setup_intent")
    status, body = confirm_card(offline_stripe, intent, DECLINED_ON_SAVE)
    assert (status, body["error"]["message"]) == (402, "Your card was declined.")  # shown by the page's script

    intent = page_setup_intent(f"{created.url}/setup_intent")
    assert confirm_card(offline_stripe, intent, DECLINED_ON_CHARGE)[1]["status"] == "succeeded"
    status, page = submit(created.url, {"setup_intent": intent["id"], "email": "a@example.com"})
    assert status == 402
    assert "Your card was declined." in page
    assert client.v1.checkout.sessions.retrieve(created.id).status == "open"

    assert pay_on_page(offline_stripe, created.url, email="a@example.com")[0] == 303
    assert client.v1.checkout.sessions.retrieve(created.id).payment_status == "paid"


def test_setup_mode_saves_a_card_for_the_customer(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "saver@example.com"})
    created = session(
        client, mode="setup", customer=customer.id, currency="usd", setup_intent_data={"metadata": {"why": "later"}}
    )
    assert (created.payment_status, created.amount_total) == ("no_payment_required", 0)
    assert created.setup_intent is not None
    assert created.setup_intent.startswith("seti_")
    page = fetch(created.url)[2]
    assert all(shown in page for shown in (">Save card<", 'value="saver@example.com" required readonly'))
    intent = page_setup_intent(f"{created.url}/setup_intent")
    assert intent["id"] == created.setup_intent
    assert confirm_card(offline_stripe, intent)[1]["status"] == "succeeded"
    assert submit(created.url, {"setup_intent": intent["id"]}) == (303, done_url(created.id))
    done = client.v1.checkout.sessions.retrieve(created.id)
    assert (done.status, done.customer) == ("complete", customer.id)
    setup = client.v1.setup_intents.retrieve(str(done.setup_intent))
    assert setup.status == "succeeded"
    assert setup.metadata.to_dict() == {"why": "later"}
    assert client.v1.payment_methods.retrieve(str(setup.payment_method)).customer == customer.id


def test_the_completed_event_goes_to_registered_endpoints(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    with WebhookSink(offline_stripe, ["checkout.session.completed", "payment_method.attached"]) as sink:
        created = session(client, mode="subscription", line_items=[{"price": monthly(client), "quantity": 1}])
        pay_on_page(offline_stripe, created.url, email="hook@example.com")
        event = sink.wait_for("checkout.session.completed", created.id)
        done = event["data"]["object"]
        assert (done["status"], done["mode"], done["payment_status"]) == ("complete", "subscription", "paid")
        assert done["subscription"].startswith("sub_")
        assert done["customer"].startswith("cus_")
        method = client.v1.subscriptions.retrieve(done["subscription"]).default_payment_method
        assert sink.wait_for("payment_method.attached", str(method))["data"]["object"]["customer"] == done["customer"]


def test_promotion_codes_on_the_page(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    client.v1.coupons.create(params={"id": "TENOFF", "amount_off": 1000, "currency": "usd", "duration": "once"})
    promotion = client.v1.promotion_codes.create(params={"coupon": "TENOFF", "code": "WELCOME"})  # type: ignore[typeddict-unknown-key]
    created = session(
        client, mode="subscription", line_items=[{"price": monthly(client), "quantity": 1}], allow_promotion_codes=True
    )
    assert 'name="code"' in fetch(created.url)[2]
    status, page = submit(f"{created.url}/promotion_code", {"code": "NOPE"})
    assert status == 400
    assert "This code is invalid." in page
    assert submit(f"{created.url}/promotion_code", {"code": "welcome"}) == (303, f"/checkout/pay/{created.id}")
    page = fetch(created.url)[2]
    assert all(shown in page for shown in ("WELCOME applied", "-$10.00"))
    discounted = client.v1.checkout.sessions.retrieve(created.id)
    assert (discounted.amount_subtotal, discounted.amount_total) == (2000, 1000)
    assert pay_on_page(offline_stripe, created.url, email="promo@example.com")[0] == 303
    subscription = client.v1.subscriptions.retrieve(str(client.v1.checkout.sessions.retrieve(created.id).subscription))
    assert subscription.discount is not None
    assert subscription.discount.coupon.id == "TENOFF"
    assert client.v1.promotion_codes.retrieve(promotion.id).times_redeemed == 1


def test_expiry_by_request_and_by_time(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    price = one_time(client)
    created = session(client, mode="payment", line_items=[{"price": price, "quantity": 1}])
    expired = client.v1.checkout.sessions.expire(created.id)
    assert (expired.status, expired.url) == ("expired", None)
    status, _, page = fetch(created.url)
    assert status == 410
    assert all(shown in page for shown in ("expired", CANCEL))
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(created.id)

    with WebhookSink(offline_stripe, ["checkout.session.expired"]) as sink:
        timed = session(client, mode="payment", line_items=[{"price": price, "quantity": 1}])
        fetch(f"{offline_stripe.url}/_config/checkout/sessions/{timed.id}", {"expires_at": int(time.time()) - 1})
        assert sink.wait_for("checkout.session.expired", timed.id)["data"]["object"]["status"] == "expired"
    assert client.v1.checkout.sessions.retrieve(timed.id).status == "expired"


def test_a_delayed_payment_completes_unpaid_then_reports_the_outcome(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    with WebhookSink(
        offline_stripe, ["checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed"]
    ) as sink:
        for iban, outcome, status in (
            ("DE89370400440532013000", "succeeded", "paid"),
            ("DE62370400440532013001", "failed", "unpaid"),
        ):
            created = session(
                client,
                mode="payment",
                line_items=[{"price": one_time(client), "quantity": 1}],
                payment_method_types=["card", "sepa_debit"],
            )
            intent = page_setup_intent(f"{created.url}/setup_intent")
            assert confirm_card(offline_stripe, intent, sepa_iban=iban)[1]["status"] == "succeeded"
            assert submit(created.url, {"setup_intent": intent["id"], "email": "sepa@example.com"})[0] == 303
            assert client.v1.checkout.sessions.retrieve(created.id).payment_status == "unpaid"
            event = sink.wait_for(f"checkout.session.async_payment_{outcome}", created.id)
            assert event["data"]["object"]["payment_status"] == status
            assert client.v1.checkout.sessions.retrieve(created.id).payment_status == status


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"success_url": None}, "success_url", "Missing required param: success_url."),
        ({"mode": None}, "mode", "Missing required param: mode."),
        ({"line_items": None}, "line_items", "Missing required param: line_items."),
        ({"line_items": [{"price": "price_nope", "quantity": 1}]}, "line_items[0][price]", "No such price"),
        ({"line_items": [{"price": "RECURRING"}]}, "line_items[0][quantity]", "Quantity is required."),
        ({"line_items": [{"price": "RECURRING", "quantity": 1}]}, "line_items", "passed a recurring price"),
        ({"customer": "CUSTOMER", "customer_email": "a@example.com"}, None, "customer, customer_email"),
        ({"expires_at": 1}, "expires_at", "30 minutes"),
        ({"success_url": "ftp://nope"}, "success_url", "Not a valid URL"),
        ({"subscription_data": {"trial_period_days": 3}}, "subscription_data", "in `payment` mode"),
        ({"colour": "red"}, "colour", "Received unknown parameter: colour"),
        ({"ui_mode": "embedded"}, "cancel_url", "is not allowed when `ui_mode` is `embedded`"),
    ],
)
def test_refused_as_stripe_refuses(
    client: stripe.StripeClient, params: dict[str, Any], param: str | None, message: str
) -> None:
    given: dict[str, Any] = {"mode": "payment", "line_items": [{"price": one_time(client), "quantity": 1}]}
    given["success_url"], given["cancel_url"] = SUCCESS, CANCEL
    for key, value in params.items():
        if isinstance(value, list) and value[0].get("price") == "RECURRING":
            value = [{**value[0], "price": monthly(client)}]
        if value == "CUSTOMER":
            value = client.v1.customers.create().id
        given[key] = value
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params={k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
    assert message in str(caught.value.user_message)
    assert caught.value.param == param


def test_unknown_sessions_and_malformed_forms(offline_stripe: OfflineStripe, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    status, _, page = fetch(f"{offline_stripe.url}/checkout/pay/cs_test_nope")
    assert status == 404
    assert "not valid" in page
    assert "Traceback" not in page
    created = session(client, mode="payment", line_items=[{"price": one_time(client), "quantity": 1}])
    status, page = submit(created.url, {"email": "a@example.com"})
    assert status == 400
    assert "Add your card details" in page
    intent = page_setup_intent(f"{created.url}/setup_intent")
    confirm_card(offline_stripe, intent)
    status, page = submit(created.url, {"setup_intent": intent["id"], "email": "not an email"})
    assert status == 400
    assert "Your email address is invalid." in page
    status, page = submit(f"{created.url}/promotion_code", {"code": "X"})
    assert status == 400  # this session takes no promotion codes
    foreign = client.v1.setup_intents.create()
    status, page = submit(created.url, {"setup_intent": foreign.id, "email": "a@example.com"})
    assert status == 400


def test_sessions_are_listed_newest_first_a_page_at_a_time(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client)
    price = one_time(client)
    made = [
        session(client, mode="payment", customer=customer, line_items=[{"price": price, "quantity": 1}]).id
        for _ in range(3)
    ]
    first = client.v1.checkout.sessions.list(params={"customer": customer, "limit": 2})
    assert [s.id for s in first.data] == made[::-1][:2]
    assert first.has_more
    rest = client.v1.checkout.sessions.list(
        params={"customer": customer, "limit": 2, "starting_after": first.data[-1].id}
    )
    assert [s.id for s in rest.data] == [made[0]]
    assert not rest.has_more


def test_how_the_pages_show_amounts_and_dates() -> None:
    assert (money(2000, "usd"), money(500, "jpy"), money(1999, "pln")) == ("$20.00", "¥500", "19.99 PLN")
    assert interval({"interval": "month", "interval_count": 1}) == "per month"
    assert interval({"interval": "week", "interval_count": 2}) == "every 2 weeks"
    assert interval(None) == ""
    assert day(1798761600) == "1 January 2027"


def test_sessions_and_line_items_have_stripes_current_fields(client: stripe.StripeClient) -> None:
    created = session(client, mode="payment", line_items=[{"price": one_time(client), "quantity": 1}]).to_dict()
    line = client.v1.checkout.sessions.line_items.list(created["id"]).data[0].to_dict()
    fixtures = load_fixtures()
    assert set(fixtures["checkout.session"]) <= set(created)
    assert set(fixtures["item"]) <= set(line)

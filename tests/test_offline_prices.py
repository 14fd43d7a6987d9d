"""The offline Stripe's catalogue (Products, Prices, promotion codes) and subscriptions on prices, with trials,
driven through the real ``stripe`` library as Stripe would be."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe

from flask_stripe_billing.offline import OFFLINE_API_KEY, OfflineStripe
from tests.factories.hosted_pages import customer_with_card

DAY = 24 * 3600


def price(client: stripe.StripeClient, amount: int = 900, product: str | None = None, **params: Any) -> Any:
    """A new monthly price (``recurring=None`` for a one-time one) of *product* or of a new product."""
    params.setdefault("recurring", {"interval": "month"})
    if params["recurring"] is None:
        del params["recurring"]
    if product is None:
        params.setdefault("product_data", {"name": "Pro"})
    else:
        params["product"] = product
    return client.v1.prices.create(params={"currency": "usd", "unit_amount": amount, **params})


def events(client: stripe.StripeClient, kind: str) -> list[Any]:
    """The objects of the *kind* events sent so far, oldest first."""
    return [event.data.object for event in client.v1.events.list(params={"type": kind, "limit": 100}).data]


def refused(call: Any, *args: Any, **kwargs: Any) -> stripe.InvalidRequestError:
    """The error Stripe answers *call* with."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- Products ---------------------------------------------------------------------------------------------------


def test_a_product_is_created_read_updated_and_listed(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(params={"id": "prod_pro", "name": "Pro", "metadata": {"tier": "2"}})
    assert (product.id, product.name, product.active, product.default_price) == ("prod_pro", "Pro", True, None)
    assert product.images == []
    assert product.updated == product.created
    monthly = price(client, product="prod_pro")
    updated = client.v1.products.update(
        "prod_pro",
        params={
            "name": "Pro plan",
            "description": "All of it",
            "metadata": {"tier": "", "seats": "5"},
            "default_price": monthly.id,
        },
    )
    assert (updated.name, updated.description, updated.default_price) == ("Pro plan", "All of it", monthly.id)
    assert updated.metadata.to_dict() == {"seats": "5"}
    read = client.v1.products.retrieve("prod_pro", params={"expand": ["default_price"]})
    assert read.default_price.unit_amount == 900  # type: ignore[union-attr]
    (event,) = client.v1.events.list(params={"type": "product.updated"}).data
    assert event.data.object.name == "Pro plan"
    assert event.data.previous_attributes["name"] == "Pro"  # type: ignore[index]
    assert [obj.id for obj in events(client, "product.created")] == ["prod_pro"]

    client.v1.products.create(params={"id": "prod_old", "name": "Old", "active": False})
    client.v1.products.create(params={"id": "prod_other", "name": "Other"})
    assert [p.id for p in client.v1.products.list(params={"active": True}).data] == ["prod_other", "prod_pro"]
    assert [p.id for p in client.v1.products.list(params={"ids": ["prod_old", "prod_pro"]}).data] == [
        "prod_old",
        "prod_pro",
    ]


def test_products_are_refused_as_stripe_refuses_them(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    missing = refused(client.v1.products.retrieve, "prod_nope")
    assert (missing.http_status, missing.code, missing.param) == (404, "resource_missing", "id")
    assert missing.user_message == "No such product: 'prod_nope'"
    client.v1.products.create(params={"id": "prod_a", "name": "A"})
    assert (
        refused(client.v1.products.create, params={"id": "prod_a", "name": "Again"}).code == "resource_already_exists"
    )
    assert refused(client.v1.products.create, params={"description": "no name"}).param == "name"
    other = price(client)
    error = refused(client.v1.products.update, "prod_a", params={"default_price": other.id})
    assert error.param == "default_price"
    assert refused(client.v1.products.update, "prod_a", params={"colour": "red"}).param == "colour"  # type: ignore[typeddict-unknown-key]


def test_default_price_data_makes_the_products_default_price(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(
        params={"name": "Book", "default_price_data": {"currency": "eur", "unit_amount": 1200}}
    )
    default = client.v1.prices.retrieve(str(product.default_price))
    assert (default.product, default.unit_amount, default.currency, default.type) == (
        product.id,
        1200,
        "eur",
        "one_time",
    )
    assert events(client, "product.created")[0].default_price == default.id


# -- Prices ------------------------------------------------------------------------------------------------------


def test_a_price_in_stripes_shape(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(params={"name": "Pro"}).id
    created = client.v1.prices.create(
        params={
            "currency": "USD", "unit_amount": 2000, "product": product, "nickname": "Pro monthly",
            "recurring": {"interval": "month", "interval_count": 1}, "lookup_key": "pro_monthly",
            "tax_behavior": "exclusive", "metadata": {"plan": "pro"},
        }
    )  # fmt: skip
    assert created.id.startswith("price_")
    read = client.v1.prices.retrieve(created.id, params={"expand": ["product"]})
    assert read.product.name == "Pro"  # type: ignore[union-attr]
    data = client.v1.prices.retrieve(created.id).to_dict()
    assert data == {
        "id": created.id, "object": "price", "active": True, "billing_scheme": "per_unit", "created": created.created,
        "currency": "usd", "custom_unit_amount": None, "livemode": False, "lookup_key": "pro_monthly",
        "metadata": {"plan": "pro"}, "nickname": "Pro monthly", "product": product,
        "recurring": {
            "interval": "month", "interval_count": 1, "meter": None, "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "exclusive", "tiers_mode": None, "transform_quantity": None, "type": "recurring",
        "unit_amount": 2000, "unit_amount_decimal": Decimal("2000"),  # the library reads decimals
    }  # fmt: skip
    one_time = price(client, 500, product, recurring=None)
    assert (one_time.type, one_time.recurring) == ("one_time", None)
    assert [p.id for p in events(client, "price.created")] == [created.id, one_time.id]


def test_a_price_is_updated_and_sends_price_updated(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    monthly = price(client, metadata={"a": "1"})
    updated = client.v1.prices.update(
        monthly.id, params={"active": False, "nickname": "Legacy", "metadata": {"b": "2"}, "lookup_key": "legacy"}
    )
    assert (updated.active, updated.nickname, updated.lookup_key) == (False, "Legacy", "legacy")
    assert updated.metadata.to_dict() == {"a": "1", "b": "2"}
    (event,) = client.v1.events.list(params={"type": "price.updated"}).data
    assert event.data.previous_attributes.to_dict() == {  # type: ignore[attr-defined]
        "active": True, "nickname": None, "metadata": {"a": "1"}, "lookup_key": None,
    }  # fmt: skip
    assert client.v1.plans.retrieve(monthly.id).active is False  # the plan behind it follows


def test_lookup_keys_are_unique_unless_transferred(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    old = price(client, 900, lookup_key="pro")
    error = refused(price, client, 1200, lookup_key="pro")
    assert (error.http_status, error.param) == (400, "lookup_key")
    assert error.user_message == f"A price (`{old.id}`) already uses that lookup key."
    new = price(client, 1200, lookup_key="pro", transfer_lookup_key=True)
    assert client.v1.prices.retrieve(old.id).lookup_key is None
    (found,) = client.v1.prices.list(params={"lookup_keys": ["pro"]}).data
    assert (found.id, found.unit_amount) == (new.id, 1200)
    assert [p.lookup_key for p in events(client, "price.updated")] == [None]
    newer = price(client, 1500)
    assert refused(client.v1.prices.update, newer.id, params={"lookup_key": "pro"}).param == "lookup_key"
    client.v1.prices.update(newer.id, params={"lookup_key": "pro", "transfer_lookup_key": True})
    assert client.v1.prices.retrieve(new.id).lookup_key is None


def test_prices_are_listed_with_stripes_filters(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(params={"name": "Pro"}).id
    monthly = price(client, 900, product, lookup_key="m")
    yearly = price(client, 9000, product, recurring={"interval": "year"}, lookup_key="y")
    once = price(client, 500, product, recurring=None)
    elsewhere = price(client, 100)
    archived = price(client, 700, product)
    client.v1.prices.update(archived.id, params={"active": False})

    def ids(**params: Any) -> list[str]:
        return [p.id for p in client.v1.prices.list(params=params).data]  # type: ignore[arg-type]

    assert ids() == [archived.id, elsewhere.id, once.id, yearly.id, monthly.id]  # newest first
    assert ids(product=product, active=True) == [once.id, yearly.id, monthly.id]
    assert ids(type="one_time") == [once.id]
    assert ids(recurring={"interval": "year"}) == [yearly.id]
    assert ids(lookup_keys=["m", "y", "nope"]) == [yearly.id, monthly.id]
    assert ids(active=False) == [archived.id]


def test_price_lists_page_like_stripe(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(params={"name": "Pro"}).id
    made = [price(client, amount, product).id for amount in range(100, 600, 100)][::-1]  # newest first
    first = client.v1.prices.list(params={"limit": 2})
    assert ([p.id for p in first.data], first.has_more) == (made[:2], True)
    second = client.v1.prices.list(params={"limit": 2, "starting_after": made[1]})
    assert ([p.id for p in second.data], second.has_more) == (made[2:4], True)
    last = client.v1.prices.list(params={"limit": 2, "starting_after": made[3]})
    assert ([p.id for p in last.data], last.has_more) == (made[4:], False)
    before = client.v1.prices.list(params={"limit": 2, "ending_before": made[4]})
    assert ([p.id for p in before.data], before.has_more) == (made[2:4], True)
    assert [p.id for p in client.v1.prices.list(params={"limit": 2}).auto_paging_iter()] == made
    assert refused(client.v1.prices.list, params={"limit": 101}).param == "limit"
    assert refused(client.v1.prices.list, params={"starting_after": "price_nope"}).param == "starting_after"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"unit_amount": 900, "product_data": {"name": "Pro"}}, "currency"),
        ({"currency": "usd", "product_data": {"name": "Pro"}}, "unit_amount"),
        ({"currency": "usd", "unit_amount": 900}, "product"),
        ({"currency": "usd", "unit_amount": 900, "product": "prod_nope"}, "product"),
        ({"currency": "usd", "unit_amount": -1, "product_data": {"name": "Pro"}}, "unit_amount"),
        (
            {
                "currency": "usd",
                "unit_amount": 9,
                "product_data": {"name": "P"},
                "recurring": {"interval": "fortnight"},
            },
            "recurring[interval]",
        ),
        (
            {"currency": "usd", "unit_amount": 9, "product_data": {"name": "P"}, "tax_behavior": "sometimes"},
            "tax_behavior",
        ),
        ({"currency": "usd", "unit_amount": 9, "product_data": {"name": "P"}, "colour": "red"}, "colour"),
        ({"currency": "usd", "unit_amount": 9, "product_data": {"active": False}}, "product_data[name]"),
    ],
)
def test_a_malformed_price_is_refused_naming_the_parameter(
    offline_client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    error = refused(offline_client.v1.prices.create, params=params)
    assert (error.http_status, error.param, error.error.type) == (400, param, "invalid_request_error")  # type: ignore[union-attr]
    assert offline_client.v1.prices.list().data == []


def test_an_unknown_price_is_stripes_404(offline_client: stripe.StripeClient) -> None:
    error = refused(offline_client.v1.prices.retrieve, "price_nope")
    assert (error.http_status, error.code, error.user_message) == (
        404,
        "resource_missing",
        "No such price: 'price_nope'",
    )
    assert refused(offline_client.v1.prices.update, "price_nope", params={"active": False}).http_status == 404


def test_a_plan_is_a_price_too(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    product = client.v1.products.create(params={"name": "Legacy"}).id
    plan = client.v1.plans.create(params={"amount": 500, "currency": "usd", "interval": "week", "product": product})
    as_price = client.v1.prices.retrieve(plan.id)
    assert (as_price.unit_amount, as_price.recurring.interval, as_price.product) == (500, "week", product)  # type: ignore[union-attr]
    client.v1.plans.update(plan.id, params={"nickname": "Weekly"})
    assert client.v1.prices.retrieve(plan.id).nickname == "Weekly"


# -- Subscriptions on prices ----------------------------------------------------------------------------------


def test_a_subscription_on_a_price_is_billed_unit_amount_times_quantity(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    monthly = price(client, 1250)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": monthly.id, "quantity": 3}]}
    )
    assert subscription.status == "active"
    item = subscription["items"].data[0]
    assert (item.price.id, item.price.unit_amount, item.price.object) == (monthly.id, 1250, "price")
    assert (item.plan.id, item.plan.amount, item.quantity) == (monthly.id, 1250, 3)
    assert item.current_period_end > item.current_period_start
    invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.total, invoice.amount_paid, invoice.status) == (3750, 3750, "paid")


def test_a_subscription_switches_to_another_price(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    starter, pro = price(client, 900), price(client, 2900)
    subscription = client.v1.subscriptions.create(params={"customer": customer, "items": [{"price": starter.id}]})
    item_id = subscription["items"].data[0].id
    switched = client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": item_id, "price": pro.id}], "proration_behavior": "none"}
    )
    assert (switched["items"].data[0].id, switched["items"].data[0].price.id) == (item_id, pro.id)


def test_a_subscription_on_price_data(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    product = client.v1.products.create(params={"name": "Seats"}).id
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{
                "price_data": {
                    "currency": "usd", "product": product, "unit_amount": 400, "recurring": {"interval": "month"},
                },
                "quantity": 2,
            }],
        }
    )  # fmt: skip
    inline = subscription["items"].data[0].price
    assert (inline.unit_amount, inline.product, inline.active) == (400, product, False)
    assert client.v1.invoices.retrieve(str(subscription.latest_invoice)).total == 800


def test_subscriptions_refuse_prices_they_cannot_bill(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    one_time, archived = price(client, 500, recurring=None), price(client, 900)
    client.v1.prices.update(archived.id, params={"active": False})
    for bad, param in (
        (one_time.id, "items[0][price]"),
        (archived.id, "items[0][price]"),
        ("price_nope", "items[0][price]"),
    ):
        error = refused(client.v1.subscriptions.create, params={"customer": customer, "items": [{"price": bad}]})
        assert (error.http_status, error.param) == (400, param)
    assert client.v1.subscriptions.list().data == []


def test_a_subscription_item_takes_a_price(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    monthly, seats = price(client, 900), price(client, 300)
    subscription = client.v1.subscriptions.create(params={"customer": customer, "items": [{"price": monthly.id}]})
    item = client.v1.subscription_items.create(
        params={"subscription": subscription.id, "price": seats.id, "quantity": 2}
    )
    assert (item.price.id, item.plan.id, item.quantity) == (seats.id, seats.id, 2)


# -- Trials --------------------------------------------------------------------------------------------------------


def test_a_trial_is_trialing_until_it_ends(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    monthly = price(client, 900)
    before = int(time.time())
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": monthly.id}], "trial_period_days": 14}
    )
    assert subscription.status == "trialing"
    assert before + 14 * DAY <= subscription.trial_end <= int(time.time()) + 14 * DAY  # type: ignore[operator]
    assert subscription["items"].data[0].current_period_end == subscription.trial_end
    assert subscription.trial_settings.end_behavior.missing_payment_method == "create_invoice"  # type: ignore[union-attr]
    trial_invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (trial_invoice.total, trial_invoice.status, trial_invoice.billing_reason) == (
        0,
        "paid",
        "subscription_create",
    )
    assert [s.status for s in events(client, "customer.subscription.created")] == ["trialing"]
    assert events(client, "customer.subscription.trial_will_end") == []

    ended = client.v1.subscriptions.update(subscription.id, params={"trial_end": "now"})
    assert ended.status == "active"
    paid = client.v1.invoices.retrieve(str(ended.latest_invoice))
    assert (paid.total, paid.status, paid.billing_reason) == (900, "paid", "subscription_cycle")
    assert [s.id for s in events(client, "customer.subscription.trial_will_end")] == [subscription.id]
    assert events(client, "customer.subscription.updated")[-1].status == "active"


def test_a_short_trial_gives_notice_at_once_and_trial_end_is_taken(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    trial_end = int(time.time()) + 2 * DAY
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price(client).id}], "trial_end": trial_end}
    )
    assert (subscription.status, subscription.trial_end) == ("trialing", trial_end)
    assert [s.id for s in events(client, "customer.subscription.trial_will_end")] == [subscription.id]
    longer = client.v1.subscriptions.update(subscription.id, params={"trial_end": trial_end + 10 * DAY})
    assert (longer.status, longer["items"].data[0].current_period_end) == ("trialing", trial_end + 10 * DAY)


@pytest.mark.parametrize(
    ("behavior", "status"), [("cancel", "canceled"), ("pause", "paused"), ("create_invoice", "past_due")]
)
def test_a_trial_without_a_card_ends_as_its_settings_say(
    offline_client: stripe.StripeClient, behavior: str, status: str
) -> None:
    client = offline_client
    customer = client.v1.customers.create(params={"email": "no-card@example.com"}).id
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer, "items": [{"price": price(client).id}], "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": behavior}},
        }  # type: ignore[typeddict-item]
    )  # fmt: skip
    assert subscription.status == "trialing"
    assert subscription.trial_settings.end_behavior.missing_payment_method == behavior  # type: ignore[union-attr]
    ended = client.v1.subscriptions.update(subscription.id, params={"trial_end": "now"})
    assert ended.status == status
    if behavior == "create_invoice":
        assert client.v1.invoices.retrieve(str(ended.latest_invoice)).status == "open"


def test_malformed_trial_settings_are_refused(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    error = refused(
        client.v1.subscriptions.create,
        params={
            "customer": customer, "items": [{"price": price(client).id}], "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": "shrug"}},
        },  # type: ignore[typeddict-item]
    )  # fmt: skip
    assert error.param == "trial_settings[end_behavior][missing_payment_method]"


# -- Promotion codes -----------------------------------------------------------------------------------------------


def test_a_promotion_code_is_created_read_updated_and_listed(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    client.v1.coupons.create(params={"id": "TEN", "percent_off": 10, "duration": "once"})
    client.v1.coupons.create(params={"id": "FIVE", "amount_off": 500, "currency": "usd", "duration": "once"})
    current = client.v1.promotion_codes.create(
        params={
            "promotion": {"type": "coupon", "coupon": "TEN"}, "code": "WELCOME", "max_redemptions": 5,
            "metadata": {"a": "1"},
        }
    )  # fmt: skip
    legacy = client.v1.promotion_codes.create(params={"coupon": "FIVE", "code": "FIVE-OFF"})  # type: ignore[typeddict-unknown-key]
    made_up = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": "FIVE"}})
    assert current.id.startswith("promo_")
    assert made_up.code
    assert (current.promotion.type, current.promotion.coupon, current.active, current.times_redeemed) == (
        "coupon",
        "TEN",
        True,
        0,
    )
    assert current.coupon.id == "TEN"  # type: ignore[attr-defined]
    assert legacy.promotion.coupon == "FIVE"
    assert client.v1.promotion_codes.retrieve(current.id).max_redemptions == 5

    assert (
        refused(
            client.v1.promotion_codes.create,
            params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "welcome"},
        ).param
        == "code"
    )
    assert (
        refused(client.v1.promotion_codes.create, params={"promotion": {"type": "coupon", "coupon": "NOPE"}}).param
        == "promotion[coupon]"
    )
    missing = refused(client.v1.promotion_codes.retrieve, "promo_nope")
    assert (missing.http_status, missing.user_message) == (404, "No such promotion code: 'promo_nope'")

    off = client.v1.promotion_codes.update(current.id, params={"active": False, "metadata": {"b": "2"}})
    assert (off.active, off.metadata.to_dict()) == (False, {"a": "1", "b": "2"})
    assert events(client, "promotion_code.updated")[0].active is False

    def codes(**params: Any) -> list[str]:
        return [p.code for p in client.v1.promotion_codes.list(params=params).data]  # type: ignore[arg-type]

    assert codes(code="welcome") == ["WELCOME"]
    assert codes(active=True) == [made_up.code, "FIVE-OFF"]
    assert codes(coupon="FIVE") == [made_up.code, "FIVE-OFF"]
    assert len(events(client, "promotion_code.created")) == 3


def test_a_promotion_code_discounts_a_subscription(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    client.v1.coupons.create(params={"id": "TEN", "percent_off": 10, "duration": "once"})
    promotion = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "WELCOME", "max_redemptions": 1}
    )
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer, "items": [{"price": price(client, 900).id}],
            "discounts": [{"promotion_code": promotion.id}],
        }
    )  # fmt: skip
    (discount,) = subscription.discounts
    assert (discount.coupon.id, discount.promotion_code) == ("TEN", promotion.id)  # type: ignore[union-attr]
    assert client.v1.invoices.retrieve(str(subscription.latest_invoice)).total == 810
    assert client.v1.promotion_codes.retrieve(promotion.id).times_redeemed == 1
    assert client.v1.coupons.retrieve("TEN").times_redeemed == 1

    other = customer_with_card(client, email="grace@example.com")
    again = {
        "customer": other,
        "items": [{"price": price(client, 900).id}],
        "discounts": [{"promotion_code": promotion.id}],
    }
    assert refused(client.v1.subscriptions.create, params=again).param == "discounts[0][promotion_code]"  # used up
    client.v1.promotion_codes.update(promotion.id, params={"active": False})
    error = refused(client.v1.subscriptions.create, params=again)
    assert "not active" in str(error.user_message)


def test_a_promotion_code_for_one_customer_only(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    ada, grace = customer_with_card(client), customer_with_card(client, email="grace@example.com")
    client.v1.coupons.create(params={"id": "VIP", "percent_off": 50, "duration": "forever"})
    promotion = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "VIP"}, "code": "ADA", "customer": ada}
    )
    monthly = price(client, 1000)
    params: dict[str, Any] = {"items": [{"price": monthly.id}], "discounts": [{"promotion_code": promotion.id}]}
    assert (
        refused(client.v1.subscriptions.create, params={"customer": grace, **params}).param
        == "discounts[0][promotion_code]"
    )
    subscription = client.v1.subscriptions.create(params={"customer": ada, **params})
    assert client.v1.invoices.retrieve(str(subscription.latest_invoice)).total == 500


# -- Kept across restarts ------------------------------------------------------------------------------------------


def test_the_catalogue_is_kept_in_the_store_file(tmp_path: Path) -> None:
    store = str(tmp_path / "store.pickle")
    with OfflineStripe(store_path=store, log_path=str(tmp_path / "log")) as offline:
        client = stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": offline.url}, max_network_retries=0)
        kept = price(client, 900, lookup_key="pro")
        client.v1.coupons.create(params={"id": "TEN", "percent_off": 10, "duration": "once"})
        client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "KEPT"})
    with OfflineStripe(store_path=store, log_path=str(tmp_path / "log2")) as offline:
        client = stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": offline.url}, max_network_retries=0)
        assert client.v1.prices.retrieve(kept.id).lookup_key == "pro"
        assert [p.code for p in client.v1.promotion_codes.list().data] == ["KEPT"]

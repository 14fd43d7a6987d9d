"""The offline Stripe switches plans, applies coupons and asks for 3-D Secure on a first invoice as Stripe does."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import stripe

NEXT_YEAR = datetime.datetime.now(datetime.UTC).year + 1


def customer_with_card(client: stripe.StripeClient, number: str = "4242424242424242") -> str:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123"}}
    )
    customer = client.v1.customers.create(params={"email": "someone@example.com"})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": method.id}})
    return customer.id


def plan(client: stripe.StripeClient, amount: int, interval: str = "month", nickname: str = "Plan") -> str:
    product = client.v1.products.create(params={"name": nickname})
    return client.v1.plans.create(
        params={
            "amount": amount,
            "currency": "usd",
            "interval": interval,
            "product": product.id,
            "nickname": nickname,
        }  # type: ignore[typeddict-item]
    ).id


def invoices(client: stripe.StripeClient, subscription_id: str) -> list[Any]:
    return [i for i in client.v1.invoices.list().data if i.subscription == subscription_id]  # type: ignore[attr-defined]


def pending_lines(client: stripe.StripeClient, customer: str) -> list[tuple[int, str]]:
    return sorted(
        (item.amount, str(item.description))
        for item in client.v1.invoice_items.list(params={"customer": customer}).data
        if item.invoice is None
    )


@pytest.fixture
def subscribed(offline_client: stripe.StripeClient) -> tuple[stripe.StripeClient, Any, str]:
    customer = customer_with_card(offline_client)
    starter = plan(offline_client, 900, nickname="Starter")
    subscription = offline_client.v1.subscriptions.create(params={"customer": customer, "items": [{"plan": starter}]})
    assert subscription.status == "active"
    return offline_client, subscription, customer


def switch(client: stripe.StripeClient, subscription: Any, plan_id: str, behavior: str) -> Any:
    return client.v1.subscriptions.update(
        subscription.id,
        params={
            "items": [{"id": subscription["items"].data[0].id, "plan": plan_id}],  # type: ignore[typeddict-item]
            "proration_behavior": behavior,  # type: ignore[typeddict-item]
        },
    )


def test_a_switch_without_proration_keeps_the_item_and_invoices_nothing(subscribed: Any) -> None:
    client, subscription, customer = subscribed
    pro = plan(client, 2900, nickname="Pro")
    switched = switch(client, subscription, pro, "none")
    item = switched["items"].data[0]
    assert (item.id, item.plan.id, item.plan.amount) == (subscription["items"].data[0].id, pro, 2900)
    assert switched.status == "active"
    assert len(invoices(client, subscription.id)) == 1
    assert pending_lines(client, customer) == []


def test_a_prorated_switch_credits_the_unused_time_and_charges_the_rest(subscribed: Any) -> None:
    client, subscription, customer = subscribed
    pro = plan(client, 2900, nickname="Pro")
    switch(client, subscription, pro, "create_prorations")
    (credit, credit_text), (charge, charge_text) = pending_lines(client, customer)
    # Switched seconds into the period: very nearly the whole of each plan.
    assert -900 <= credit <= -895
    assert 2885 <= charge <= 2900
    assert credit_text.startswith("Unused time on Starter")
    assert charge_text.startswith("Remaining time on Pro")
    assert len(invoices(client, subscription.id)) == 1


def test_always_invoice_bills_the_difference_at_once(subscribed: Any) -> None:
    client, subscription, customer = subscribed
    switch(client, subscription, plan(client, 2900, nickname="Pro"), "always_invoice")
    (latest,) = [i for i in invoices(client, subscription.id) if i.billing_reason == "subscription_update"]
    assert latest.status == "paid"
    assert 1985 <= latest.total <= 2000
    assert pending_lines(client, customer) == []


def test_a_switch_to_another_interval_restarts_the_period_and_invoices_the_new_plan(subscribed: Any) -> None:
    client, subscription, _ = subscribed
    yearly = plan(client, 29000, interval="year", nickname="Pro yearly")
    switched = switch(client, subscription, yearly, "none")
    assert switched["items"].data[0].plan.interval == "year"
    totals = sorted(invoice.total for invoice in invoices(client, subscription.id))
    assert totals == [900, 29000]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"proration_behavior": "sometimes"}, "Invalid proration_behavior"),
        ({"items": [{"id": "si_other", "plan": "x"}]}, "No such subscription item"),
        ({"items": [{"plan": "plan_missing"}]}, "No such plan"),
        ({"items": [{"quantity": "0"}]}, "Invalid items[0][quantity]"),
    ],
)
def test_malformed_switches_are_refused_with_stripes_kind_of_error(
    subscribed: Any, params: dict[str, Any], message: str
) -> None:
    client, subscription, _ = subscribed
    with pytest.raises(stripe.InvalidRequestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        client.v1.subscriptions.update(subscription.id, params=params)  # type: ignore[arg-type]


def test_a_coupon_discounts_the_first_invoice_once(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    client.v1.coupons.create(params={"id": "WELCOME10", "percent_off": 10, "duration": "once"})
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"plan": plan(client, 900)}], "discounts": [{"coupon": "WELCOME10"}]}  # type: ignore[typeddict-item]
    )
    assert subscription.status == "active"
    (discount,) = subscription.discounts
    assert discount.coupon.id == "WELCOME10"  # type: ignore[union-attr]
    (invoice,) = invoices(client, subscription.id)
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (900, 810, 810)
    assert client.v1.coupons.retrieve("WELCOME10").times_redeemed == 1


def test_a_legacy_coupon_and_an_amount_off(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    client.v1.coupons.create(params={"id": "FIVE", "amount_off": 500, "currency": "usd", "duration": "forever"})
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"plan": plan(client, 900)}], "coupon": "FIVE"}  # type: ignore[typeddict-item]
    )
    (invoice,) = invoices(client, subscription.id)
    assert invoice.total == 400


def test_an_unknown_coupon_is_refused_and_nothing_is_created(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client)
    with pytest.raises(stripe.InvalidRequestError, match="No such coupon"):
        client.v1.subscriptions.create(
            params={"customer": customer, "items": [{"plan": plan(client, 900)}], "discounts": [{"coupon": "NOPE"}]}  # type: ignore[typeddict-item]
        )
    assert client.v1.subscriptions.list().data == []


def test_a_first_invoice_needing_3d_secure_shows_its_confirmation_secret(offline_client: stripe.StripeClient) -> None:
    client = offline_client
    customer = customer_with_card(client, "4000002760003184")
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"plan": plan(client, 900)}],
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    assert subscription.status == "incomplete"
    secret = subscription.latest_invoice.confirmation_secret  # type: ignore[union-attr]
    assert secret is not None
    assert secret.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(secret.client_secret.split("_secret_")[0])
    assert intent.status == "requires_action"

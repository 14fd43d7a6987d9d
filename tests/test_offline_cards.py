"""The offline Stripe reads cards as people type them and refuses wrong ones with Stripe's card errors."""

from __future__ import annotations

import datetime
import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from flask_stripe_billing.offline import OFFLINE_PUBLISHABLE_KEY, OfflineStripe
from flask_stripe_billing.offline.cards import CardError, luhn_valid, normalize_card
from tests.browser import CHROMIUM, CHROMIUM_ARGS

NEXT_YEAR = datetime.datetime.now(datetime.UTC).year + 1


@pytest.fixture
def client(offline_client: stripe.StripeClient) -> stripe.StripeClient:
    """The shared offline client (``conftest.py``), under the name these tests use."""
    return offline_client


def card(**changes: Any) -> dict[str, Any]:
    return {"number": "4242424242424242", "exp_month": "12", "exp_year": str(NEXT_YEAR), "cvc": "123", **changes}


def confirm_like_offline_stripe_js(offline: OfflineStripe, client: stripe.StripeClient, typed: dict[str, Any]) -> Any:
    """Confirm a SetupIntent with a new card the way the offline Stripe.js does: JSON, publishable key, and the
    typed year after "20"."""
    intent = client.v1.setup_intents.create()
    body = {
        "key": OFFLINE_PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": intent.client_secret,
        "payment_method_data": {"type": "card", "card": {**typed, "exp_year": "20" + typed["exp_year"]}},
    }
    request = urllib.request.Request(  # noqa: S310 - the offline Stripe on 127.0.0.1
        f"{offline.url}/v1/setup_intents/{intent.id}/confirm", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_token_takes_spaces_in_the_number_and_a_four_digit_year(client: stripe.StripeClient) -> None:
    token = client.v1.tokens.create(params={"card": card(number="4242 4242 4242 4242")})
    assert token.card is not None
    assert (token.card.last4, token.card.exp_month, token.card.exp_year) == ("4242", 12, NEXT_YEAR)


def test_a_payment_method_takes_dashes_and_a_two_digit_year(client: stripe.StripeClient) -> None:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": card(number="4242-4242-4242-4242", exp_year=str(NEXT_YEAR)[2:])}
    )
    assert method.card is not None
    assert (method.card.last4, method.card.exp_year) == ("4242", NEXT_YEAR)


@pytest.mark.parametrize("year", [str(NEXT_YEAR), str(NEXT_YEAR)[2:]])
def test_the_offline_card_fields_take_what_people_type(
    offline_stripe: OfflineStripe, client: stripe.StripeClient, year: str
) -> None:
    status, body = confirm_like_offline_stripe_js(
        offline_stripe, client, card(number="4242 4242 4242 4242", exp_year=year)
    )
    assert status == 200, body
    assert body["status"] == "succeeded"
    method = client.v1.payment_methods.retrieve(body["payment_method"])
    assert method.card is not None
    assert (method.card.last4, method.card.exp_year) == ("4242", NEXT_YEAR)


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ({"number": "4242 4242 4242 4241"}, "incorrect_number", "Your card number is incorrect."),
        ({"number": "4242 4242 4242"}, "incorrect_number", "Your card number is incorrect."),
        ({"number": "4242 4242 abcd 4242"}, "invalid_number", "Your card number is invalid."),
        ({"exp_month": "13"}, "invalid_expiry_month", "Your card's expiration month is invalid."),
        ({"exp_year": "2"}, "invalid_expiry_year", "Your card's expiration year is invalid."),
        ({"exp_year": "2015"}, "invalid_expiry_year", "Your card's expiration year is invalid."),
        ({"cvc": "12"}, "invalid_cvc", "Your card's security code is invalid."),
        ({"cvc": ""}, "invalid_cvc", "Your card's security code is invalid."),
    ],
)
def test_a_wrong_card_gets_stripes_card_error(
    client: stripe.StripeClient, typed: dict[str, str], code: str, message: str
) -> None:
    with pytest.raises(stripe.CardError) as caught:
        client.v1.tokens.create(params={"card": card(**typed)})
    assert caught.value.http_status == 402
    assert (caught.value.code, caught.value.user_message) == (code, message)
    assert caught.value.json_body is not None
    assert caught.value.json_body["error"]["type"] == "card_error"
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.create(params={"type": "card", "card": card(**typed)})
    assert (caught.value.code, caught.value.user_message) == (code, message)


def test_the_card_fields_show_stripes_message_for_a_wrong_card(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    status, body = confirm_like_offline_stripe_js(offline_stripe, client, card(number="4242 4242 4242 4243"))
    assert status == 402
    assert body["error"] == {
        "type": "card_error",
        "code": "incorrect_number",
        "param": "number",
        "message": "Your card number is incorrect.",
    }


def test_declined_test_cards_are_still_declined(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        client.v1.customers.create(
            params={"source": client.v1.tokens.create(params={"card": card(number="4000 0000 0000 0002")}).id}
        )
    assert caught.value.code == "card_declined"


def test_luhn_and_expiry_rules() -> None:
    assert luhn_valid("4242424242424242")
    assert luhn_valid("4000002760003184")
    assert not luhn_valid("4242424242424241")
    typed = card(number=" 4000-0027 6000-3184 ", exp_month=" 3 ", exp_year="2030", cvc=" 999 ")
    normalize_card(typed, today=datetime.date(2030, 3, 31))
    assert typed == {"number": "4000002760003184", "exp_month": 3, "exp_year": 2030, "cvc": "999"}
    with pytest.raises(CardError) as caught:
        normalize_card(card(exp_month="2", exp_year="30"), today=datetime.date(2030, 3, 1))
    assert caught.value.code == "invalid_expiry_month"


TYPED_CARD_PAGE = """<!doctype html><html><body><div id="card"></div>
<script src="{js_url}"></script>
<script>
  var stripe = Stripe("{key}");
  var card = stripe.elements().create("card");
  card.mount("#card");
</script></body></html>"""


@pytest.mark.slow
def test_people_can_type_a_card_into_the_offline_card_fields(
    offline_stripe: OfflineStripe, client: stripe.StripeClient
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: browser test skipped")
    page_url = f"{offline_stripe.url}/card-fields-test"  # the offline Stripe's origin: no cross-origin calls
    html = TYPED_CARD_PAGE.format(js_url=offline_stripe.js_url, key=OFFLINE_PUBLISHABLE_KEY)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.route(page_url, lambda route: route.fulfill(body=html, content_type="text/html"))
            page.goto(page_url)
            for year in (str(NEXT_YEAR), str(NEXT_YEAR)[2:]):
                for field in ("number", "exp_month", "exp_year", "cvc", "postal_code"):
                    page.fill(f"input[placeholder={field}]", "")
                page.click("input[placeholder=number]")
                # One key at a time, the cursor moving on by itself, as a person types it.
                page.keyboard.type(f"4242 4242 4242 4242 12{year}12310001", delay=5)
                typed = {f: page.input_value(f"input[placeholder={f}]") for f in ("number", "exp_year", "cvc")}
                assert typed == {"number": "4242 4242 4242 4242", "exp_year": year, "cvc": "123"}
                token = page.evaluate("stripe.createToken(card)")
                assert "error" not in token or not token["error"], token
                assert (token["token"]["card"]["last4"], token["token"]["card"]["exp_year"]) == ("4242", NEXT_YEAR)
                intent = client.v1.setup_intents.create()
                result = page.evaluate(
                    "secret => stripe.confirmCardSetup(secret, {payment_method: {card: card}})", intent.client_secret
                )
                assert result["setupIntent"]["status"] == "succeeded", result
            page.fill("input[placeholder=number]", "4242 4242 4242 4241")
            refused = page.evaluate("stripe.createToken(card)")
            assert refused["error"]["message"] == "Your card number is incorrect."
            assert errors == []
        finally:
            browser.close()

"""The pages' template filters: money in minor units (exact, by each currency's decimals), dates, times in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_stripe_billing import money
from flask_stripe_billing.web.pages import formatting


@pytest.mark.parametrize(
    ("currency", "places"), [("usd", 2), ("USD", 2), ("jpy", 0), ("krw", 0), ("kwd", 3), ("BHD", 3), (None, 2)]
)
def test_decimal_places_follow_stripes_minor_units(currency: str | None, places: int) -> None:
    assert money.decimal_places(currency) == places


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (12345, "kwd", "12.345 KWD"),
        (5, "tnd", "0.005 TND"),
        (-5, "usd", "-$0.05"),
        (0, "jpy", "¥0"),
        # Beyond the 28 digits of decimal's default context: still exact to the cent.
        (10**30 + 1, "usd", "$10,000,000,000,000,000,000,000,000,000.01"),
        (2**63 + 7, "eur", "€92,233,720,368,547,758.15"),
    ],
)
def test_money_is_exact_in_each_currencys_decimals(amount: int, currency: str, expected: str) -> None:
    assert formatting.money(amount, currency) == expected


def test_utc_time_says_utc_and_converts_aware_times() -> None:
    naive = dt.datetime(2027, 3, 3, 14, 5, 9)
    paris = dt.datetime(2027, 3, 3, 15, 5, 9, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert formatting.utc_time(naive) == "2027-03-03 14:05:09 UTC"
    assert formatting.utc_time(paris) == "2027-03-03 14:05:09 UTC"
    assert formatting.utc_time(None) == ""


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1999, "usd", "$19.99"),
        (123456789, "usd", "$1,234,567.89"),
        (5, "eur", "€0.05"),
        (500, "jpy", "¥500"),
        (500, "JPY", "¥500"),
        (1999, "pln", "19.99 PLN"),
        (7000, "krw", "7,000 KRW"),
        (-250, "gbp", "-£2.50"),
        (None, "usd", ""),
    ],
)
def test_money_is_shown_in_major_units(amount: int | None, currency: str, expected: str) -> None:
    assert formatting.money(amount, currency) == expected

"""Template filters: money in minor units, dates and times, shown the same way on every page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

#: Currencies Stripe counts in whole units (no minor unit): amounts are not divided.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905 - a compact list
)

#: Currencies Stripe counts in thousandths (fils, baisa, millimes): amounts are divided by 1,000.
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

#: Symbols shown before the amount; other currencies show their code after it.
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}


def decimal_places(currency: str | None) -> int:
    """How many digits of an amount in *currency*'s minor unit follow the decimal point: 0, 2 or 3."""
    code = (currency or "").lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    return 3 if code in THREE_DECIMAL_CURRENCIES else 2


def money(amount: int | None, currency: str | None) -> str:
    """An amount in minor units, in major units with the currency: ``1999, "usd"`` → ``$19.99``;
    ``500, "jpy"`` → ``¥500``; ``1999, "pln"`` → ``19.99 PLN``; ``12345, "kwd"`` → ``12.345 KWD``.

    Exact: the division is a decimal shift, never float arithmetic.  Empty for ``None``.
    """
    if amount is None:
        return ""
    code = (currency or "").lower()
    places = decimal_places(code)
    # Built from the digits (exact at any size), not ``scaleb``, which rounds to the context's 28 digits.
    text = f"{Decimal(f'{int(amount)}E-{places}'):,.{places}f}"
    symbol = SYMBOLS.get(code)
    if symbol is not None:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {code.upper()}".strip()


def date(value: dt.datetime | None) -> str:
    """A date in words (``March 3, 2027``); empty for ``None``."""
    if value is None:
        return ""
    return f"{value:%B} {value.day}, {value.year}"


def utc_time(value: dt.datetime | None) -> str:
    """A moment in UTC, saying so: ``2027-03-03 14:05:09 UTC``; empty for ``None``.

    An aware time is converted to UTC; a naive one is taken to be UTC already (what the models store).
    """
    if value is None:
        return ""
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return f"{aware:%Y-%m-%d %H:%M:%S} UTC"


def interval(count: int, unit: str) -> str:
    """``1, "month"`` → ``month``; ``3, "month"`` → ``3 months``."""
    return unit if count == 1 else f"{count} {unit}s"

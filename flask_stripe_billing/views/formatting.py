"""Template filters: money in minor units and dates, shown the same way on every page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

#: Currencies Stripe counts in whole units (no minor unit): amounts are not divided by 100.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905 - a compact list
)

#: Symbols shown before the amount; other currencies show their code after it.
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}


def money(amount: int | None, currency: str | None) -> str:
    """``1999, "usd"`` → ``$19.99``; ``500, "jpy"`` → ``¥500``; ``1999, "pln"`` → ``19.99 PLN``."""
    if amount is None:
        return ""
    code = (currency or "").lower()
    value = Decimal(amount) if code in ZERO_DECIMAL_CURRENCIES else Decimal(amount) / 100
    text = f"{value:,.0f}" if code in ZERO_DECIMAL_CURRENCIES else f"{value:,.2f}"
    symbol = SYMBOLS.get(code)
    if symbol is not None:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {code.upper()}".strip()


def date(value: dt.datetime | None) -> str:
    """A date in words (``March 3, 2027``); empty for ``None``."""
    if value is None:
        return ""
    return f"{value:%B} {value.day}, {value.year}"


def interval(count: int, unit: str) -> str:
    """``1, "month"`` → ``month``; ``3, "month"`` → ``3 months``."""
    return unit if count == 1 else f"{count} {unit}s"

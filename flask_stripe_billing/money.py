"""Money: integer amounts in a currency's minor unit, the currencies Stripe takes, and how amounts are shown.

The one place for what an amount and a currency are; it imports nothing of ours, so the configuration, the
models' checks, the domains and the pages all use it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeGuard

#: Stripe's largest amount for one charge, in minor units (eight digits).
MAX_AMOUNT = 99_999_999

#: Currencies Stripe can charge in (https://docs.stripe.com/currencies), lowercase as the API wants them.
_CURRENCY_CODES = (
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf "
    "chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg "
    "huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk "
    "mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub "
    "rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd "
    "vuv wst xaf xcd xof xpf yer zar zmw"
)
SUPPORTED_CURRENCIES = frozenset(_CURRENCY_CODES.split())


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


def format_money(amount: int | None, currency: str | None) -> str:
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


def is_whole_number(value: Any) -> TypeGuard[int]:
    """Whether *value* is an integer (``True`` and ``False`` are not amounts of money)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_amount(value: Any) -> TypeGuard[int]:
    """Whether *value* is a whole number of minor units above zero."""
    return is_whole_number(value) and value > 0


def is_currency(value: Any) -> TypeGuard[str]:
    """Whether *value* is a currency Stripe supports, written as the API wants it (three lowercase letters)."""
    return isinstance(value, str) and value in SUPPORTED_CURRENCIES

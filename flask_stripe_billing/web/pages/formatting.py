"""Template filters: money in minor units (:func:`flask_stripe_billing.money.format_money`), dates and times,
shown the same way on every page."""

from __future__ import annotations

import datetime as dt

from ...money import format_money as money

__all__ = ["date", "interval", "money", "utc_time"]


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

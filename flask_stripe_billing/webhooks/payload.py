"""Decoding a verified webhook body into an event that every database can store.

A signature proves who sent the body, not that it is sane: Stripe may send odd data one day, and a leaked
signing secret must not let anyone make the route fall over.  :func:`decode_event` therefore refuses, with
:class:`MalformedEventError`, whatever Python's JSON parser or one of the supported databases would choke on:

* bytes that are not UTF-8, text that is not exactly one JSON value, a byte-order mark;
* ``NaN``, ``Infinity`` and numbers too large for a 64-bit float or integer (which includes integers of more
  digits than Python converts);
* nesting deeper than :data:`MAX_DEPTH` (Stripe's objects are a handful of levels deep; Python's parser
  raises ``RecursionError`` near 1,000, its encoder sooner);
* strings, keys included, with ``\\u0000`` (PostgreSQL's ``jsonb`` refuses it) or an unpaired surrogate
  (no UTF-8 encoding exists for one).

The checks walk the decoded value once, iteratively, and only when the raw body could hold such a string or
such nesting: most events cost nothing beyond parsing.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import MalformedEventError

#: Deepest nesting of arrays and objects accepted; Stripe's events nest about ten levels at most.  MariaDB's
#: JSON refuses more than 31 levels, and an event every database stores the same way is answered the same way.
MAX_DEPTH = 30

#: Integers are stored exactly only within 64 bits (``jsonb`` keeps more, MariaDB's JSON does not).
MAX_INTEGER = 2**63 - 1
MIN_INTEGER = -(2**63)


def _refuse_constant(name: str) -> Any:
    raise MalformedEventError(f"The body contains {name}, which is not JSON.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedEventError("The body contains a number too large for a 64-bit float.")
    return value


def _bounded_int(text: str) -> int:
    # Bound the digits before converting: int() refuses more than 4,300 digits, and is quadratic below that.
    if len(text.lstrip("-")) > 19:
        raise MalformedEventError("The body contains an integer too large to store.")
    value = int(text)
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        raise MalformedEventError("The body contains an integer too large to store.")
    return value


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise MalformedEventError("The body contains a NUL character (\\u0000), which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEventError("The body contains an unpaired surrogate (\\ud800-\\udfff).") from None


def _check_values(event: dict[str, Any], *, texts: bool) -> None:
    """Walk *event* without recursion: its depth, and (when *texts*) every string and key."""
    pending: list[tuple[Any, int]] = [(event, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if texts:
                _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise MalformedEventError(f"The body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, dict):
            for key, inner in item.items():
                if texts:
                    _check_text(key)
                pending.append((inner, depth + 1))
        else:
            pending.extend((inner, depth + 1) for inner in item)


def decode_event(payload: bytes) -> dict[str, Any]:
    """The JSON object in *payload*, checked to be storable on every supported database.

    :raises MalformedEventError: for anything but one UTF-8 JSON object that SQLite, PostgreSQL and MariaDB
        can all store as it is.
    """
    if payload.startswith(b"\xef\xbb\xbf"):
        raise MalformedEventError("The body starts with a byte-order mark; Stripe sends plain UTF-8 JSON.")
    try:
        text = payload.decode("utf-8")
        event = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except MalformedEventError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedEventError("The body is not UTF-8 JSON.") from None
    if not isinstance(event, dict):
        raise MalformedEventError("The body is not a JSON object.")
    # NUL and surrogates can only arrive escaped (raw, the parser or the UTF-8 decoder refuses them), and a
    # body with fewer brackets than the limit cannot be nested deeper: most events skip the walk.
    texts = b"\\u" in payload
    if texts or payload.count(b"[") + payload.count(b"{") > MAX_DEPTH:
        _check_values(event, texts=texts)
    return event

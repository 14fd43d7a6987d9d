"""The webhook route under fuzzing: no request is answered 5xx, and nothing is stored unless correctly signed.

Requests go through the Flask test client (no network) to an app on SQLite and on PostgreSQL.  Half of them
carry an arbitrary or broken ``Stripe-Signature`` header; the other half are signed with the endpoint's secret,
since Stripe may send odd data and a leaked secret must not make the route fall over.  Their bodies are
event-shaped objects with fields of every JSON type, JSON with what the databases refuse (``\\u0000``, lone
surrogates, ``NaN``, huge numbers), deep nesting, duplicate keys, and arbitrary bytes.

The default run sends :data:`EXAMPLES` requests of each kind per database; ``TEST_WEBHOOK_FUZZ_EXAMPLES`` sets
another count (``.ci/run`` sends 5,000 of each kind, 10,000 requests per database).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_stripe_billing.models import StripeWebhook
from tests.factories.webhooks import SECRET, URL, signed_headers

#: Requests of each kind (unsigned, signed) per database.
EXAMPLES = int(os.environ.get("TEST_WEBHOOK_FUZZ_EXAMPLES") or 600)

#: Characters that databases, encoders or parsers treat specially.
ODD_CHARACTERS = ["\x00", "\ud800", "\udfff", "\ud83d", "\ufeff", "\u2028", "\x7f", "\xe9", "💳", "\\", '"', "\n"]

odd_text = st.text(st.one_of(st.characters(), st.sampled_from(ODD_CHARACTERS)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(),
    odd_text,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3), max_leaves=12
)
deep_values = st.integers(min_value=30, max_value=1_500).map(lambda depth: json.loads("[" * depth + "]" * depth))

EVENT_TYPES = ["ping", "customer.updated", "customer.deleted", "invoice.paid", "charge.refunded", "coupon.updated"]
event_ids = st.one_of(st.builds("evt_{}".format, odd_text), st.just("evt_" + "x" * 300), json_values)
event_types = st.one_of(st.sampled_from(EVENT_TYPES), odd_text, json_values)
created_times = st.one_of(
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from([10**30, 2**63, -(2**63), 2**64, -1, 253_402_300_800, -62_135_596_801, 1.5e9, True]),
    json_values,
)
events = st.fixed_dictionaries(
    {"id": event_ids, "type": event_types},
    optional={
        "object": st.one_of(st.just("event"), json_values),
        "created": created_times,
        "livemode": json_values,
        "api_version": st.one_of(st.none(), st.just("2026-10-28.endive"), st.just("v" * 65), odd_text, json_values),
        "data": st.one_of(st.fixed_dictionaries({"object": st.one_of(json_values, deep_values)}), json_values),
        "extra": st.one_of(json_values, deep_values),
    },
)


def encode(event: Any, ascii_only: bool) -> bytes:
    """*event* as JSON; lone surrogates become escapes (ASCII) or invalid UTF-8 bytes (otherwise)."""
    return json.dumps(event, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


event_bodies = st.builds(encode, events, st.booleans())
EVENT = b'{"id": "evt_fuzz", "type": "ping"'
special_bodies = st.sampled_from(
    [
        b"",
        b" ",
        b"null",
        b"[]",
        b"{}",
        b"NaN",
        b'"evt_1"',
        EVENT + b', "x": NaN}',
        EVENT + b', "x": -Infinity}',
        EVENT + b', "x": 1e400}',
        EVENT + b', "x": "\\u0000"}',
        EVENT + b', "\\u0000": 1}',
        EVENT + b', "x": "\\udc00\\ud800"}',
        EVENT + b', "x": "\xed\xa0\x80"}',
        EVENT + b"} trailing",
        EVENT + b"}" + b"\x00",
        b"\xef\xbb\xbf" + EVENT + b"}",
        b'{"id": "evt_a", "id": "evt_b", "type": "ping"}',
        b'{"id": "evt_\\u0000", "type": "ping"}',
        b'{"id": "evt_\\ud800", "type": "ping"}',
        b'{"id": "evt_1", "type": "ping\\u0000"}',
    ]
)
raw_bodies = st.one_of(
    st.binary(max_size=120),
    st.integers(min_value=1, max_value=5_000).map(lambda n: EVENT + b', "x": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(min_value=1, max_value=5_000).map(lambda n: b'{"a": ' * n + b"1" + b"}" * n),
    st.integers(min_value=4_000, max_value=6_000).map(lambda n: EVENT + b', "n": ' + b"9" * n + b"}"),
    st.builds(lambda body, at, junk: body[:at] + junk + body[at + 1 :], event_bodies, st.integers(0, 200), st.binary()),
)
bodies = st.one_of(event_bodies, event_bodies, special_bodies, raw_bodies)

#: Header text as a server hands it over: any byte but CR and LF, decoded as Latin-1.
header_text = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=100)
signature_values = st.one_of(
    header_text,
    st.just("\xe9"),
    st.text("0123456789abcdefABCDEF", min_size=63, max_size=65),
)
timestamps = st.one_of(
    st.integers(min_value=-(10**14), max_value=10**14).map(str),
    st.sampled_from(["", "-1", "+1", " 1", "1e9", "١٢٣", "0x10", "9" * 40]),
    st.integers(min_value=-400, max_value=400).map(lambda delta: str(int(time.time()) + delta)),
)
forged_headers = st.one_of(
    header_text,
    st.builds(
        lambda stamp, signatures, scheme: ",".join([f"t={stamp}", *(f"{scheme}={value}" for value in signatures)]),
        timestamps,
        st.lists(signature_values, max_size=10),
        st.sampled_from(["v1", "v0", "V1", " v1", "v1 "]),
    ),
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""])


def decorate(valid: str, before: list[str], after: list[str], spaces: bool) -> str:
    """A correctly signed header with extra (wrong or malformed) ``v1`` signatures around the right one."""
    stamp, signature = valid.split(",")
    parts = [stamp, *(f"v1={value}" for value in before), signature, *(f"v1={value}" for value in after)]
    return (", " if spaces else ",").join(parts)


def post(client: FlaskClient, body: bytes, signature: str | None, content_type: str) -> Any:
    SENT.append(signature is not None)
    headers = {} if signature is None else {"Stripe-Signature": signature}
    response = client.post(URL, data=body, headers=headers, content_type=content_type or None)
    response.close()  # processing runs now, as it does once a real server has sent the answer
    return response


def stored_ids(db: SQLAlchemy) -> set[str]:
    db.session.remove()
    return set(db.session.scalars(sa.select(StripeWebhook.id)))


def assert_refused(response: Any) -> None:
    assert response.status_code in (400, 413), response.get_data()
    assert response.is_json
    assert isinstance(response.json["error"], str)


#: One entry per request sent, for the count reported at the end.
SENT: list[bool] = []


def fuzz(client: FlaskClient, db: SQLAlchemy, examples: int) -> None:
    """Send *examples* unsigned and *examples* signed requests; check the answers and what was stored."""
    accepted: set[str] = set()
    fuzz_settings = settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )

    @fuzz_settings
    @given(body=bodies, signature=st.none() | forged_headers, content_type=content_types)
    def unsigned(body: bytes, signature: str | None, content_type: str) -> None:
        assert_refused(post(client, body, signature, content_type))

    @fuzz_settings
    @given(
        body=bodies,
        before=st.lists(signature_values, max_size=3),
        after=st.lists(signature_values, max_size=3),
        spaces=st.booleans(),
        content_type=st.just("application/json") | content_types,
    )
    def signed(body: bytes, before: list[str], after: list[str], spaces: bool, content_type: str) -> None:
        header = decorate(signed_headers(body, SECRET)["Stripe-Signature"], before[:3], after, spaces)
        response = post(client, body, header, content_type)
        if response.status_code == 200:
            accepted.add(response.json["received"])
            assert response.json["received"] in stored_ids(db)
        else:
            assert_refused(response)
            assert stored_ids(db) == accepted

    unsigned()
    assert stored_ids(db) == set()
    signed()
    assert stored_ids(db) == accepted


def test_fuzzed_requests_are_never_answered_5xx(
    client: FlaskClient, db: SQLAlchemy, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    SENT.clear()
    fuzz(client, db, EXAMPLES)
    record_property("requests", len(SENT))
    with capsys.disabled():
        print(f"\nwebhook fuzz on {db.engine.dialect.name}: {len(SENT)} requests, none answered 5xx", end=" ")
    assert len(SENT) >= 2 * EXAMPLES * 0.9

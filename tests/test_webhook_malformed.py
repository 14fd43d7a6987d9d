"""Each malformed webhook request that once made the route answer 500: now a 400 with a JSON error, nothing stored.

The unsigned ones come from anyone; the signed ones need the endpoint's secret, but Stripe may send odd data
and a leaked secret must not make the route fall over.  Every case runs on SQLite and on PostgreSQL (whose
``jsonb`` refuses ``\\u0000`` and ``NaN``, which SQLite would store).
"""

from __future__ import annotations

import json
import logging
import time

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeWebhook
from flask_stripe_billing.webhooks.payload import MAX_DEPTH, MalformedEventError, decode_event
from flask_stripe_billing.webhooks.verify import SignatureError, verify_signature
from tests.factories.webhooks import URL, signed_headers

EVENT = '{"id": "evt_odd", "type": "ping", "object": "event"'


def body_with(extra: str) -> bytes:
    return (EVENT + ", " + extra + "}").encode("utf-8", "surrogatepass")


SIGNED_BUT_MALFORMED = {
    "nested 1,000 deep": body_with('"x": ' + "[" * 1_000 + "]" * 1_000),
    "nested 100,000 deep": body_with('"x": ' + "[" * 100_000 + "]" * 100_000),
    "nested deeper than the limit": body_with('"x": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
    "objects nested 2,000 deep": ('{"a": ' * 2_000 + '{"id": "evt_odd", "type": "ping"}' + "}" * 2_000).encode(),
    "an integer of 4,300 digits": body_with('"n": ' + "9" * 4_300),
    "an integer of 5,000 digits": body_with('"n": ' + "9" * 5_000),
    "an integer over 64 bits": body_with(f'"n": {2**64}'),
    "created 10^30": body_with(f'"created": {10**30}'),
    "created 2^63": body_with(f'"created": {2**63}'),
    "created 2^63 - 1": body_with(f'"created": {2**63 - 1}'),
    "created past year 9999": body_with('"created": 253402300800'),
    "created before 1970": body_with('"created": -1'),
    "created a float": body_with('"created": 1.5e9'),
    "created true": body_with('"created": true'),
    "an unpaired surrogate in the id": b'{"id": "evt_\\ud800", "type": "ping"}',
    "an unpaired low surrogate in data": body_with('"data": {"object": {"name": "\\udc00"}}'),
    "an unpaired surrogate as raw bytes": body_with('"x": "\ud800"'),
    "NUL in the id": b'{"id": "evt_\\u0000", "type": "ping"}',
    "NUL in the type": b'{"id": "evt_odd", "type": "ping\\u0000"}',
    "NUL in a value": body_with('"data": {"object": {"description": "a\\u0000b"}}'),
    "NUL in a key": body_with('"data": {"object": {"a\\u0000": 1}}'),
    "NaN": body_with('"x": NaN'),
    "Infinity": body_with('"x": Infinity'),
    "-Infinity": body_with('"x": -Infinity'),
    "1e400": body_with('"x": 1e400'),
    "a byte-order mark": b"\xef\xbb\xbf" + body_with('"x": 1'),
    "not UTF-8": body_with('"x": "\xe9"').replace(b"\xc3\xa9", b"\xe9"),
}


@pytest.mark.parametrize("body", SIGNED_BUT_MALFORMED.values(), ids=SIGNED_BUT_MALFORMED.keys())
def test_signed_but_malformed_bodies_are_refused_and_not_stored(
    client: FlaskClient, db: SQLAlchemy, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.post(URL, data=body, headers=signed_headers(body))
        response.close()
    assert response.status_code == 400
    assert isinstance(response.json["error"], str)
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeWebhook)) == 0
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize("signature", ["\xe9", "é" * 64, "A" * 64, "0" * 63, "0" * 65, "g" * 64, " " + "0" * 64])
def test_a_signature_that_is_not_lowercase_hex_is_no_match(client: FlaskClient, db: SQLAlchemy, signature: str) -> None:
    body = (EVENT + "}").encode()
    headers = {"Stripe-Signature": f"t={int(time.time())},v1={signature}".encode().decode("latin-1")}
    response = client.post(URL, data=body, headers=headers, content_type="application/json")
    assert response.status_code == 400
    assert "v1" in response.json["error"]
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeWebhook)) == 0


def test_a_malformed_signature_beside_the_right_one_does_not_hide_it(client: FlaskClient, db: SQLAlchemy) -> None:
    body = (EVENT + "}").encode()
    stamp, valid = signed_headers(body)["Stripe-Signature"].split(",")
    response = client.post(
        URL, data=body, headers={"Stripe-Signature": f"{stamp},v1=\xe9,{valid}"}, content_type="application/json"
    )
    response.close()
    assert response.status_code == 200


def test_verify_signature_refuses_non_hex_without_comparing() -> None:
    with pytest.raises(SignatureError, match="v1"):
        verify_signature(b"{}", f"t={int(time.time())},v1=\xe9", ["whsec_x"], 300)


def test_ordinary_events_decode_unchanged() -> None:
    event = {
        "id": "evt_1",
        "type": "invoice.paid",
        "created": 1_700_000_000,
        "data": {"object": {"amount_due": 999, "tax_percent": 12.5, "lines": [{"a": [{"b": None}]}], "name": "Zoë 💳"}},
    }
    assert decode_event(json.dumps(event).encode()) == event
    assert decode_event(json.dumps(event, ensure_ascii=True).encode()) == event


def test_nesting_at_the_limit_is_accepted() -> None:
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert decode_event(f'{{"id": "evt_1", "x": {inner}}}'.encode())["id"] == "evt_1"
    with pytest.raises(MalformedEventError, match="nested"):
        decode_event(f'{{"id": "evt_1", "x": [{inner}]}}'.encode())

"""Webhook signatures: raw body, several secrets, tolerance, v1 only, fail closed."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_stripe_billing.webhooks import SignatureError, WebhookNotConfiguredError, sign_payload, verify_signature

NOW = 1_790_000_000
SECRET = "whsec_current"
BODY = json.dumps({"id": "evt_1", "object": "event", "type": "ping"}).encode()


def header(body: bytes = BODY, secret: str = SECRET, timestamp: int = NOW, scheme: str = "v1") -> str:
    return f"t={timestamp},{scheme}={sign_payload(body, secret, timestamp)}"


def verify(head: str | None, body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,), now: float = NOW) -> int:
    return verify_signature(body, head, secrets, 300, now=now)


def test_valid_signature_returns_the_timestamp() -> None:
    assert verify(header()) == NOW


def test_matches_stripes_own_signing() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_payload(BODY, SECRET, NOW) == expected
    # The stripe library accepts what we sign, and we accept what it would.
    stripe.WebhookSignature.verify_header(BODY.decode(), header(), SECRET, tolerance=10**10)


def test_any_of_several_secrets_while_rolling() -> None:
    assert verify(header(secret="whsec_new"), secrets=("whsec_old", "whsec_new")) == NOW
    both = f"t={NOW},v1={sign_payload(BODY, 'whsec_old', NOW)},v1={sign_payload(BODY, 'whsec_new', NOW)}"
    assert verify(both, secrets=("whsec_new",)) == NOW


@pytest.mark.parametrize(
    ("head", "body", "now", "reason"),
    [
        (None, BODY, NOW, "missing"),
        ("", BODY, NOW, "missing"),
        (header(secret="whsec_other"), BODY, NOW, "No v1 signature matches"),
        (header(), BODY + b" ", NOW, "No v1 signature matches"),
        (header(), json.dumps(json.loads(BODY), indent=2).encode(), NOW, "No v1 signature matches"),
        (header(), BODY, NOW + 301, "300 seconds"),
        (header(), BODY, NOW - 301, "300 seconds"),
        (header(scheme="v0"), BODY, NOW, "no v1 signature"),
        (f"v1={sign_payload(BODY, SECRET, NOW)}", BODY, NOW, "no timestamp"),
        (f"t=abc,v1={sign_payload(BODY, SECRET, NOW)}", BODY, NOW, "malformed timestamp"),
        ("garbage", BODY, NOW, "no timestamp"),
    ],
)
def test_refused(head: str | None, body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(head, body=body, now=now)


def test_fails_closed_without_a_secret() -> None:
    with pytest.raises(WebhookNotConfiguredError, match="STRIPE_WEBHOOK_ENDPOINT_SECRET"):
        verify(header(), secrets=())


@settings(max_examples=300, deadline=None)
@given(head=st.one_of(st.none(), st.text(max_size=200)), body=st.binary(max_size=300))
def test_arbitrary_headers_never_verify_and_fail_cleanly(head: str | None, body: bytes) -> None:
    with pytest.raises(SignatureError):
        verify(head, body=body)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300), timestamp=st.integers(min_value=NOW - 300, max_value=NOW + 300))
def test_correctly_signed_bodies_verify(body: bytes, timestamp: int) -> None:
    assert verify(header(body=body, timestamp=timestamp), body=body) == timestamp

"""Checking the ``Stripe-Signature`` header over the raw request body.

The header looks like ``t=1700000000,v1=5257a8...,v1=...,v0=...``: a timestamp and one or more signatures.
A ``v1`` signature is the hex HMAC-SHA256, keyed with the endpoint's signing secret, of ``"{t}." + body``.
Only ``v1`` is trusted (``v0`` is Stripe's test scheme).  Several secrets are accepted so that a secret can be
rolled without dropping events; without any secret, every request is refused (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

from ..errors import SignatureError, WebhookNotConfiguredError

__all__ = ["SignatureError", "WebhookNotConfiguredError", "sign_payload", "verify_signature"]

#: Signatures from one header that are looked at, at most; Stripe sends one per active secret.
MAX_SIGNATURES = 8

#: What a ``v1`` signature is: a SHA-256 HMAC in lowercase hex.  Anything else can match no secret.
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` signature of *payload* at *timestamp* with *secret* (hex)."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance: int,
    *,
    now: float | None = None,
) -> int:
    """Check *header* against *payload*; return the signed timestamp.

    :param payload: the raw request body, exactly as received (never re-serialised JSON).
    :param header: the ``Stripe-Signature`` header, or ``None`` when it is missing.
    :param secrets: the endpoint's signing secrets; any one of them may have signed the event.
    :param tolerance: how many seconds the timestamp may be away from *now*, either way.
    :raises WebhookNotConfiguredError: when *secrets* is empty.
    :raises SignatureError: for a missing or malformed header, a stale timestamp, or no matching signature.
    """
    if not secrets:
        raise WebhookNotConfiguredError("STRIPE_WEBHOOK_ENDPOINT_SECRET is not set: every webhook is refused.")
    if not header:
        raise SignatureError("The Stripe-Signature header is missing.")
    timestamp, signatures = _parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"The signature's timestamp is more than {tolerance} seconds away from now.")
    for secret in secrets:
        expected = sign_payload(payload, secret, timestamp)
        if any(hmac.compare_digest(expected, signature) for signature in signatures):
            return timestamp
    raise SignatureError("No v1 signature matches the payload with any configured signing secret.")


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError("The Stripe-Signature header has a malformed timestamp.")
            timestamp = int(value)
        elif key == "v1" and len(signatures) < MAX_SIGNATURES and _SIGNATURE.fullmatch(value):
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("The Stripe-Signature header has no timestamp.")
    if not signatures:
        raise SignatureError("The Stripe-Signature header has no v1 signature (64 lowercase hex digits).")
    return timestamp, signatures

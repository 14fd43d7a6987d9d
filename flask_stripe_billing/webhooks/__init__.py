"""Webhooks: verify the signature over the raw body, store the event once, dispatch it to handlers."""

from .dispatch import process_webhook
from .registry import handles
from .verify import SignatureError, WebhookNotConfiguredError, sign_payload, verify_signature

__all__ = [
    "SignatureError",
    "WebhookNotConfiguredError",
    "handles",
    "process_webhook",
    "sign_payload",
    "verify_signature",
]

"""Webhooks: verify the signature over the raw body, store the event once, dispatch it to handlers."""

from .verify import SignatureError, WebhookNotConfiguredError, sign_payload, verify_signature

__all__ = ["SignatureError", "WebhookNotConfiguredError", "sign_payload", "verify_signature"]

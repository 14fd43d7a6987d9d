"""What Stripe's answer means for a charge: the row's new state, and the signal that says so.

The verbs (:mod:`flask_stripe_billing.charges.send`, :mod:`flask_stripe_billing.charges.refunds`) and the webhook
handlers (:mod:`.webhooks.handlers.charges`) read Stripe's PaymentIntents, Charges and card errors through these
functions, so that an answer means the same whichever way it arrives.  They change the row and never commit; the caller
sends the signal (:func:`signal_for`) once the change is committed.

Stripe's API moves: a PaymentIntent carries its charge as ``latest_charge`` (an id, or an object when expanded)
in current API versions and as ``charges.data[]`` in older ones; both are read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from blinker import Signal
from flask import current_app, url_for
from werkzeug.routing import BuildError

from .. import errors, signals
from ..core.notify import send_committed
from ..core.shapes import expandable_id, list_data
from ..models import freshness
from ..models.base import utcnow
from ..models.charge import ChargeStatus, StripeCharge
from ..money import is_whole_number

# -- the row -----------------------------------------------------------------------------------------------


def apply_payment_intent(charge: StripeCharge, intent: Mapping[str, Any], seen_at: dt.datetime | None = None) -> None:
    """Copy a PaymentIntent onto *charge*: ids, client secret, status, failure, refunds (no commit).

    Reads both shapes: the charge as ``latest_charge`` (an id or an expanded object) in current API versions,
    or as ``charges.data[]`` in older ones.  Data older than what the row holds (*seen_at*, e.g. an event's
    time) is ignored, and a charge that succeeded never goes back.
    """
    if freshness.is_older(charge, seen_at):
        return
    charge.stripe_payment_intent_id = expandable_id(intent.get("id")) or charge.stripe_payment_intent_id
    charge.payment_intent_client_secret = _text(intent.get("client_secret")) or charge.payment_intent_client_secret
    stripe_charge = latest_charge(intent)
    charge_id = expandable_id(intent.get("latest_charge")) or expandable_id(stripe_charge)
    if charge_id:
        charge.stripe_charge_id = charge_id
    if stripe_charge is not None:
        apply_refunded(charge, stripe_charge)
    freshness.remember(charge, intent, seen_at)
    if charge.is_charged:
        return
    status = intent.get("status")
    error = intent.get("last_payment_error")
    error = error if isinstance(error, Mapping) else {}
    if status in ("succeeded", "requires_capture"):
        charge.status = ChargeStatus.SUCCEEDED
        charge.is_charged = True
        charge.charge_attempt_failed = False
        charge.charged_at = charge.charged_at or utcnow()
        charge.failure_code = charge.decline_code = charge.failure_message = None
    elif status == "processing":
        charge.status = ChargeStatus.IN_FLIGHT
    elif status in ("requires_action", "requires_confirmation") or (
        status == "requires_payment_method" and needs_authentication(error.get("code"), error.get("decline_code"))
    ):
        charge.status = ChargeStatus.REQUIRES_ACTION
    elif status in ("requires_payment_method", "canceled"):
        canceled = status == "canceled"
        record_failure(
            charge,
            _text(error.get("code")) or ("canceled" if canceled else "payment_failed"),
            _text(error.get("message"))
            or (
                f"The payment was canceled ({intent.get('cancellation_reason') or 'no reason given'})."
                if canceled
                else "The payment failed."
            ),
            decline_code=_text(error.get("decline_code")),
        )


def latest_charge(intent: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The PaymentIntent's latest charge object, if the answer carries it (expanded, or the old list)."""
    latest = intent.get("latest_charge")
    if isinstance(latest, Mapping):
        return latest
    data = list_data(intent.get("charges"))
    # The old list is newest first.
    return data[0] if data and isinstance(data[0], Mapping) else None


def apply_refunded(charge: StripeCharge, stripe_charge: Mapping[str, Any]) -> None:
    """Take Stripe's refunded amount of a charge object (it may include refunds made in the Dashboard).

    Refunds only add up, so a smaller figure is an older view (a late event) and is not taken.
    """
    refunded = stripe_charge.get("amount_refunded")
    if is_whole_number(refunded) and charge.amount_refunded <= refunded <= charge.amount:
        charge.amount_refunded = refunded
        charge.is_refunded = refunded >= charge.amount or bool(stripe_charge.get("refunded"))


def apply_card_error(charge: StripeCharge, exc: errors.CardError) -> None:
    """Record a 402 on *charge* (no commit): authentication required (real Stripe, off-session) or a decline."""
    intent = exc.raw.get("payment_intent")
    if isinstance(intent, Mapping):
        apply_payment_intent(charge, intent)
    if needs_authentication(exc.code, exc.decline_code):
        charge.status = ChargeStatus.REQUIRES_ACTION
        return
    record_failure(charge, exc.code or "card_declined", exc.user_message, decline_code=exc.decline_code)
    if not isinstance(intent, Mapping):
        charge.stripe_charge_id = charge.stripe_charge_id or expandable_id(exc.raw.get("charge"))
        freshness.remember(charge, {"error": exc.raw})


def record_failure(charge: StripeCharge, code: str, message: str | None, *, decline_code: str | None = None) -> None:
    """Mark this attempt failed, with why (no commit).  ``flask stripe charge`` never retries a failed charge."""
    charge.status = ChargeStatus.FAILED
    charge.charge_attempt_failed = True
    charge.failure_code = code[:100]
    charge.decline_code = decline_code
    charge.failure_message = message


def needs_authentication(code: str | None, decline_code: str | None) -> bool:
    """Whether a failure's codes say the customer must authenticate the payment (3-D Secure)."""
    return "authentication_required" in (code, decline_code)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- the signal --------------------------------------------------------------------------------------------


def send_signals(charge: StripeCharge, before: str | None, exc: errors.CardError | None = None) -> None:
    """Send the signal of the status *charge* reached from *before* (call it after the commit)."""
    pending = signal_for(charge, before, exc)
    if pending is not None:
        signal, kwargs = pending
        send_committed(signal, StripeCharge, **kwargs)


def signal_for(
    charge: StripeCharge, before: str | None, exc: errors.CardError | None = None
) -> tuple[Signal, dict[str, Any]] | None:
    """The signal (and its keyword arguments) reporting that *charge* went from *before* to its status, if any."""
    if charge.status == before:
        return None
    if charge.status == ChargeStatus.SUCCEEDED:
        return signals.stripe_charge_succeeded, {"instance": charge}
    if charge.status == ChargeStatus.FAILED and charge.charge_attempt_failed:
        return signals.stripe_charge_card_exception, {
            "instance": charge,
            "exception": exc or card_error_from_row(charge),
        }
    if charge.status == ChargeStatus.REQUIRES_ACTION:
        return signals.payment_needs_action, {"instance": charge, "confirm_url": confirm_url_for(charge)}
    return None


def card_error_from_row(charge: StripeCharge) -> errors.CardError:
    """The ``CardError`` describing a failure recorded on *charge* (e.g. from a webhook)."""
    return errors.CardError(
        charge.failure_message or "The card was declined.",
        code=charge.failure_code,
        decline_code=charge.decline_code,
        user_message=charge.failure_message,
    )


def confirm_url_for(charge: StripeCharge) -> str | None:
    """The confirmation page of *charge* (``stripe_billing.confirm_payment``), or ``None`` if it cannot be built.

    Outside a request, a URL can only be built when ``SERVER_NAME`` is configured.
    """
    if "stripe_billing.confirm_payment" not in current_app.view_functions:
        return None
    try:
        return url_for("stripe_billing.confirm_payment", charge_id=charge.id)
    except (BuildError, RuntimeError):
        return None

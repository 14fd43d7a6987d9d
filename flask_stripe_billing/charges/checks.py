"""Refusing a charge that cannot be sent, before any Stripe request and with nothing changed.

Every check raises :class:`~flask_stripe_billing.errors.ChargeStateError`.  ``flask stripe charge`` runs the
checks on the row's own fields (:func:`check_charge_input`) on each charge it claims; :func:`check_chargeable`
adds the state of the row, for :func:`~flask_stripe_billing.charges.send.charge`.
"""

from __future__ import annotations

import re

from .. import errors
from ..models.charge import ChargeStatus, StripeCharge
from ..money import MAX_AMOUNT, is_currency, is_whole_number
from .claims import CHECKOUT_OWNER, claim_is_live

#: What Stripe forbids in a statement descriptor, besides being longer than 22 characters or lacking a letter.
_DESCRIPTOR_FORBIDDEN = re.compile(r"[<>\\'\"*]|[^\x20-\x7e]")


def check_chargeable(charge: StripeCharge) -> None:
    """Refuse a charge that cannot be sent, before anything changes.

    :raises flask_stripe_billing.errors.ChargeStateError: the amount is not a positive integer of at most eight
        digits, the currency is not one Stripe supports, the statement descriptor is over 22 characters, has
        no letter or a forbidden character (``< > \\ ' " *``, non-ASCII), or the charge is already charged,
        waits for the customer, or is being charged by another process or paid through Checkout.
    """
    check_charge_input(charge)
    if charge.is_charged or charge.status == ChargeStatus.SUCCEEDED:
        raise errors.ChargeStateError(f"Charge {charge.id} is already charged.")
    if charge.status == ChargeStatus.REQUIRES_ACTION:
        raise errors.ChargeStateError(
            f"Charge {charge.id} waits for the customer to authenticate the payment; send them to its "
            f"confirmation page, or call refresh_charge() once they have."
        )
    if charge.status == ChargeStatus.IN_FLIGHT and claim_is_live(charge):
        if charge.claimed_by == CHECKOUT_OWNER:
            until = charge.claimed_until.strftime("%Y-%m-%d %H:%M UTC") if charge.claimed_until else "it expires"
            raise errors.ChargeStateError(
                f"Charge {charge.id} is being paid by the customer through Checkout"
                + (f" (session {charge.stripe_checkout_session_id})" if charge.stripe_checkout_session_id else "")
                + f"; it is not charged off-session before {until}, when the session is read first."
            )
        raise errors.ChargeStateError(f"Charge {charge.id} is being charged by {charge.claimed_by or 'another run'}.")


def check_charge_input(charge: StripeCharge) -> None:
    """The checks of :func:`check_chargeable` on the charge's own fields: amount, currency, descriptor."""
    amount = charge.amount
    if not is_whole_number(amount) or not 0 < amount <= MAX_AMOUNT:
        raise errors.ChargeStateError(
            f"Charge {charge.id}: amount must be a whole number of minor units between 1 and {MAX_AMOUNT}, "
            f"not {amount!r}."
        )
    currency = charge.currency
    if not isinstance(currency, str) or not is_currency(currency.lower()):
        raise errors.ChargeStateError(f"Charge {charge.id}: {currency!r} is not a currency Stripe supports.")
    check_statement_descriptor(charge.statement_descriptor)


def check_statement_descriptor(descriptor: str | None) -> None:
    """Refuse a statement descriptor Stripe would reject (see :func:`check_chargeable`)."""
    if descriptor is None:
        return
    if not isinstance(descriptor, str) or not descriptor.strip():
        raise errors.ChargeStateError("The statement descriptor must be text, or None.")
    if len(descriptor) > 22:
        raise errors.ChargeStateError(f"The statement descriptor {descriptor!r} is over 22 characters.")
    if _DESCRIPTOR_FORBIDDEN.search(descriptor) or not re.search("[A-Za-z]", descriptor):
        raise errors.ChargeStateError(
            f"The statement descriptor {descriptor!r} must contain a letter and only plain ASCII characters other "
            "than < > \\ ' \" *."
        )


def check_idempotency_key(key: str | None) -> None:
    """Refuse a caller's idempotency key Stripe would reject (``None`` asks for a new one)."""
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        raise errors.ChargeStateError("idempotency_key must be a non-empty string of at most 255 characters.")

"""Refunds: part or all of a charged charge, one ``StripeRefund`` with its own idempotency key each (:func:`refund`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import errors, signals, sync
from .charge_checks import is_whole_number
from .charge_outcomes import apply_refunded, latest_charge
from .models.charge import RefundStatus, StripeCharge, StripeRefund
from .payment_intents import fetch_payment_intent
from .shapes import expandable_id
from .state import get_state

#: Reasons Stripe accepts for a refund.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def refund(charge: StripeCharge, amount_to_refund: int | None = None, *, reason: str | None = None) -> StripeRefund:
    """Refund *amount_to_refund* (default: all that remains) of a charged *charge*; one ``StripeRefund`` per call.

    Stripe's own figure of what was already refunded is read first (a refund made in the Dashboard counts),
    and a refund whose answer was lost is finished first, by replaying its key.  The refund row and its key are
    committed before the request; :data:`~flask_stripe_billing.signals.stripe_charge_refunded` is sent after
    the result is committed.

    :param reason: ``"duplicate"``, ``"fraudulent"`` or ``"requested_by_customer"``.
    :raises flask_stripe_billing.errors.ChargeStateError: the charge is not charged, the amount is not a
        positive integer, or it is more than remains.
    :raises flask_stripe_billing.errors.OutcomeUnknownError: the answer was lost (the refund is ``unknown``;
        the next ``refund()`` of this charge finishes it first).
    """
    if not charge.is_charged:
        raise errors.ChargeStateError(f"Charge {charge.id} is not charged: there is nothing to refund.")
    if amount_to_refund is not None and (not is_whole_number(amount_to_refund) or amount_to_refund <= 0):
        raise errors.ChargeStateError(
            f"The amount to refund must be a positive whole number, not {amount_to_refund!r}."
        )
    if reason is not None and (not isinstance(reason, str) or reason not in REFUND_REASONS):
        raise errors.ChargeStateError(f"Refund reason {reason!r} is not one of {sorted(REFUND_REASONS)}.")
    _check_remaining(charge, amount_to_refund)
    state = get_state()
    session = state.db.session
    for unfinished in [r for r in charge.refunds if r.status == RefundStatus.UNKNOWN]:
        _send_refund(charge, unfinished)
    _read_refunded(charge)
    remaining = _check_remaining(charge, amount_to_refund)
    row = StripeRefund(
        charge_id=charge.id,
        amount=amount_to_refund or remaining,
        currency=charge.currency,
        reason=reason,
        status=RefundStatus.PENDING,
        idempotency_key=state.gateway.new_idempotency_key("refund", "create"),
    )
    session.add(row)
    session.commit()
    return _send_refund(charge, row)


def _check_remaining(charge: StripeCharge, amount: int | None) -> int:
    remaining = charge.amount - charge.amount_refunded
    if remaining <= 0:
        raise errors.ChargeStateError(f"Charge {charge.id} is already fully refunded.")
    if amount is not None and amount > remaining:
        raise errors.ChargeStateError(
            f"Cannot refund {amount} of charge {charge.id}: only {remaining} {charge.currency} remains."
        )
    return remaining


def _read_refunded(charge: StripeCharge) -> None:
    """Bring ``amount_refunded`` up to date from Stripe, and commit."""
    stripe_charge: Mapping[str, Any] | None = None
    if charge.stripe_charge_id:
        stripe_charge = get_state().gateway.request("get", f"/v1/charges/{charge.stripe_charge_id}")
    elif charge.stripe_payment_intent_id:
        stripe_charge = latest_charge(fetch_payment_intent(charge))
    if stripe_charge is not None:
        apply_refunded(charge, stripe_charge)
    get_state().db.session.commit()


def _send_refund(charge: StripeCharge, row: StripeRefund) -> StripeRefund:
    """Send (or replay) the refund of *row*, record the answer, commit, and signal a success."""
    session = get_state().db.session
    target = (
        {"charge": charge.stripe_charge_id}
        if charge.stripe_charge_id
        else {"payment_intent": charge.stripe_payment_intent_id}
    )
    params: dict[str, Any] = {
        **target,
        "amount": row.amount,
        "metadata": {"charge_id": str(charge.id), "refund_id": str(row.id)},
    }
    if row.reason:
        params["reason"] = row.reason
    try:
        data = get_state().gateway.request("post", "/v1/refunds", params, idempotency_key=row.idempotency_key)
    except errors.OutcomeUnknownError:
        row.status = RefundStatus.UNKNOWN
        session.commit()
        raise
    except errors.StripeRequestError as exc:
        # Refused (a 429 included: not carried out): this refund failed; a new refund() makes a new one.
        row.status = RefundStatus.FAILED
        row.failure_reason = (exc.code or "refund_failed")[:100]
        sync.remember(row, {"error": exc.raw})
        session.commit()
        raise
    row.stripe_refund_id = expandable_id(data.get("id"))
    status = data.get("status")
    row.status = status if status in set(RefundStatus) else RefundStatus.SUCCEEDED
    sync.remember(row, data)
    if row.status not in (RefundStatus.FAILED, RefundStatus.CANCELED):
        charge.amount_refunded = min(charge.amount, charge.amount_refunded + row.amount)
        charge.is_refunded = charge.amount_refunded >= charge.amount
    session.commit()
    signals.stripe_charge_refunded.send(StripeCharge, instance=charge, refund=row)
    return row

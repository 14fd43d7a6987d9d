"""Refunds: part or all of a charged charge, one ``StripeRefund`` with its own idempotency key each (:func:`refund`).

Refunds of one charge are made one at a time.  A refund first claims the charge's refunds
(:func:`~flask_stripe_billing.charges.claims.claim_refunds`, a committed lease, never a lock held across a request),
then, holding the claim:

1. settles any refund an earlier call left unknown (or a killed process left unsent), by asking Stripe;
2. reads Stripe's figure of what was already refunded (a refund made in the Dashboard counts) and decides
   whether the amount asked for remains;
3. commits the new row with its idempotency key, sends the refund, and records Stripe's answer — the charge's
   refunded total included, taken from the answer (``expand[]=charge``), never added up from a stale figure;
4. gives the claim up, then sends :data:`~flask_stripe_billing.signals.stripe_charge_refunded`.

A second refund of the same charge meanwhile waits for the claim (*wait* seconds at most), then sees what the
first one did.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from .. import errors, signals
from ..core.notify import send_committed
from ..core.shapes import expandable_id
from ..core.state import get_state
from ..models import freshness
from ..models.base import utcnow
from ..models.charge import RefundStatus, StripeCharge, StripeRefund
from ..models.locks import lock
from ..money import is_whole_number
from .claims import claim_refunds, release_refunds
from .from_stripe import apply_refunded, latest_charge
from .intents import KEY_REPLAY_WINDOW, fetch_payment_intent

#: Reasons Stripe accepts for a refund.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

#: How long (seconds) :func:`refund` waits, by default, for another refund of the same charge to finish.
REFUND_WAIT = 30.0

#: Refund statuses that mean money went (or is going) back: Stripe counts them in ``amount_refunded``.
MADE = frozenset({RefundStatus.SUCCEEDED, RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION})


def refund(
    charge: StripeCharge, amount_to_refund: int | None = None, *, reason: str | None = None, wait: float = REFUND_WAIT
) -> StripeRefund:
    """Refund *amount_to_refund* (default: all that remains) of a charged *charge*; one ``StripeRefund`` per call.

    Refunds of one charge are made one at a time: while another process refunds the same charge, this call
    waits (at most *wait* seconds), then decides on what remains once the other is done.  Stripe's own figure of
    what was already refunded is read first (a refund made in the Dashboard counts), and a refund whose outcome
    is unknown is settled first, by asking Stripe.  The refund row and its key are committed before the
    request; the charge's ``amount_refunded`` is then Stripe's figure, from its answer.
    :data:`~flask_stripe_billing.signals.stripe_charge_refunded` is sent after the result is committed.

    :param reason: ``"duplicate"``, ``"fraudulent"`` or ``"requested_by_customer"``.
    :param wait: how long to wait for another refund of this charge; ``0`` to fail at once.
    :raises flask_stripe_billing.errors.ChargeStateError: the charge is not charged, the amount is not a
        positive integer or is more than remains, or another refund of this charge was still being made after
        *wait* seconds.
    :raises flask_stripe_billing.errors.OutcomeUnknownError: the answer was lost (the refund is ``unknown``;
        :func:`settle_refunds`, or the next ``refund()`` of this charge, asks Stripe what became of it).
    :raises flask_stripe_billing.errors.StripeRequestError: Stripe refused the refund (it is ``failed``).
    """
    if not charge.is_charged:
        raise errors.ChargeStateError(f"Charge {charge.id} is not charged: there is nothing to refund.")
    if amount_to_refund is not None and (not is_whole_number(amount_to_refund) or amount_to_refund <= 0):
        raise errors.ChargeStateError(
            f"The amount to refund must be a positive whole number, not {amount_to_refund!r}."
        )
    if reason is not None and (not isinstance(reason, str) or reason not in REFUND_REASONS):
        raise errors.ChargeStateError(f"Refund reason {reason!r} is not one of {sorted(REFUND_REASONS)}.")
    _check_remaining(charge, amount_to_refund)  # by the local figures: refused before anything else
    with RefundClaim(charge, wait) as claim:
        for settled, was_made in _each_settled(charge):
            if was_made:
                claim.made.append(settled)
        _read_refunded(charge)
        remaining = _check_remaining(charge, amount_to_refund)
        state = get_state()
        row = StripeRefund(
            charge_id=charge.id,
            amount=amount_to_refund or remaining,
            currency=charge.currency,
            reason=reason,
            status=RefundStatus.PENDING,
            idempotency_key=state.gateway.new_idempotency_key("refund", "create"),
        )
        state.db.session.add(row)
        state.db.session.commit()
        if _send_new(charge, row, known_refunded=charge.amount_refunded):
            claim.made.append(row)
    return row


def settle_refunds(charge: StripeCharge, *, wait: float = REFUND_WAIT) -> list[StripeRefund]:
    """Ask Stripe what became of every refund of *charge* whose outcome is unknown, record it, and return them.

    A refund whose answer was lost is sent again with its own key, so that Stripe answers with what it did; when
    its key may be forgotten (older than 23 hours), it is first looked for among the charge's refunds at Stripe
    (by the ``refund_id`` in its metadata).  It is never guessed, and never made twice.  The charge's refunded
    figure is then read from Stripe.  Waits for another refund of the charge like :func:`refund`.

    :raises flask_stripe_billing.errors.OutcomeUnknownError: Stripe could not be asked; the refund stays
        ``unknown``.
    """
    settled: list[StripeRefund] = []
    with RefundClaim(charge, wait) as claim:
        for row, was_made in _each_settled(charge):
            settled.append(row)
            if was_made:
                claim.made.append(row)
        _read_refunded(charge)
    return settled


# -- the claim ---------------------------------------------------------------------------------------------


class RefundClaim:
    """The refund claim of one charge, held for a ``with`` block (waiting up to *wait* seconds to get it).

    Refunds recorded as made in the block (:attr:`made`) are signalled once the claim is given up, so that a
    receiver may refund the charge again.
    """

    def __init__(self, charge: StripeCharge, wait: float) -> None:
        self.charge = charge
        self.wait = wait
        self.until: dt.datetime | None = None
        #: Refunds made (or found made) while the claim was held, each signalled after it is given up.
        self.made: list[StripeRefund] = []

    def __enter__(self) -> RefundClaim:
        session = get_state().db.session
        session.add(self.charge)
        deadline = time.monotonic() + max(0.0, self.wait)
        pause = 0.01
        while (until := claim_refunds(self.charge)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.ChargeStateError(
                    f"Another refund of charge {self.charge.id} is being made; try again once it is done."
                )
            # Nothing is held while waiting: every attempt committed.
            time.sleep(min(left, pause * random.uniform(0.5, 1.0)))
            pause = min(pause * 2, 0.25)
        self.until = until
        session.refresh(self.charge)
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is not None:
            get_state().db.session.rollback()  # whatever the failure left uncommitted
        assert self.until is not None
        release_refunds(self.charge, self.until)
        for row in self.made:
            send_committed(signals.stripe_charge_refunded, StripeCharge, instance=self.charge, refund=row)


# -- deciding ----------------------------------------------------------------------------------------------


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
    lock(charge)
    if stripe_charge is not None:
        apply_refunded(charge, stripe_charge)
    get_state().db.session.commit()


def _refunded_in(answer: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The charge's refunded figures in a refund answer (its ``charge``, expanded), if it carries them."""
    stripe_charge = answer.get("charge")
    if isinstance(stripe_charge, Mapping) and is_whole_number(stripe_charge.get("amount_refunded")):
        return {"amount_refunded": stripe_charge["amount_refunded"], "refunded": stripe_charge.get("refunded")}
    return None


# -- sending -----------------------------------------------------------------------------------------------


def _target(charge: StripeCharge) -> dict[str, Any]:
    """What a refund of *charge* names at Stripe: its charge, or its PaymentIntent."""
    if charge.stripe_charge_id:
        return {"charge": charge.stripe_charge_id}
    return {"payment_intent": charge.stripe_payment_intent_id}


def _params(charge: StripeCharge, row: StripeRefund) -> dict[str, Any]:
    """The refund request of *row*: the same every time it is sent, so that a replay matches its key."""
    params: dict[str, Any] = {
        **_target(charge),
        "amount": row.amount,
        "metadata": {"charge_id": str(charge.id), "refund_id": str(row.id)},
        # The answer then carries the charge's refunded total, which the row takes.
        "expand": ["charge"],
    }
    if row.reason:
        params["reason"] = row.reason
    return params


def _post(charge: StripeCharge, row: StripeRefund) -> dict[str, Any]:
    """Send (or send again) the refund of *row* with its key; a lost or ambiguous answer leaves it ``unknown``."""
    try:
        return get_state().gateway.request(
            "post", "/v1/refunds", _params(charge, row), idempotency_key=row.idempotency_key
        )
    except (errors.OutcomeUnknownError, errors.IdempotencyError) as exc:
        # No answer, or the key was already used for another request: it may have been refunded; never guessed.
        row.status = RefundStatus.UNKNOWN
        if isinstance(exc, errors.IdempotencyError):
            row.failure_reason = "idempotency_error"
        get_state().db.session.commit()
        raise


def _send_new(charge: StripeCharge, row: StripeRefund, *, known_refunded: int) -> bool:
    """Send the new refund *row* and record the answer; ``True`` if money went back.

    *known_refunded* is Stripe's figure read under the claim: should the answer not carry the charge's total,
    that figure plus this refund is what Stripe has refunded at least, and the next refund reads it again.
    """
    try:
        answer = _post(charge, row)
    except errors.StripeRequestError as exc:
        if isinstance(exc, errors.OutcomeUnknownError | errors.IdempotencyError):
            raise
        # Refused (a 429 included: not carried out): this refund failed; a new refund() makes a new one.
        row.status = RefundStatus.FAILED
        row.failure_reason = (exc.code or "refund_failed")[:100]
        freshness.remember(row, {"error": exc.raw})
        get_state().db.session.commit()
        if isinstance(exc, errors.InvalidRequestError):
            _reread_quietly(charge)  # refused as more than remains: someone refunded elsewhere meanwhile
        raise
    figures = _refunded_in(answer) or {"amount_refunded": min(charge.amount, known_refunded + row.amount)}
    return _record(charge, row, answer, figures)


def _reread_quietly(charge: StripeCharge) -> None:
    try:
        _read_refunded(charge)
    except errors.StripeRequestError:
        get_state().db.session.rollback()


def _record(
    charge: StripeCharge, row: StripeRefund, answer: Mapping[str, Any], figures: Mapping[str, Any] | None
) -> bool:
    """Record Stripe's *answer* for *row* and the charge's refunded *figures*, and commit; ``True`` if made."""
    lock(charge)  # the charge first, then its refund: the order the webhook handlers take them in
    row.stripe_refund_id = expandable_id(answer.get("id")) or row.stripe_refund_id
    status = answer.get("status")
    row.status = status if status in set(RefundStatus) else RefundStatus.SUCCEEDED
    row.failure_reason = None if row.status in MADE else _text(answer.get("failure_reason")) or row.status
    freshness.remember(row, answer)
    if figures is not None and row.status in MADE:
        apply_refunded(charge, figures)
    get_state().db.session.commit()
    return row.status in MADE


def _text(value: Any) -> str | None:
    return value[:100] if isinstance(value, str) and value else None


# -- settling ----------------------------------------------------------------------------------------------


def _each_settled(charge: StripeCharge) -> Iterator[tuple[StripeRefund, bool]]:
    """Settle, one after the other, the refunds of *charge* with no answer recorded; yield ``(row, made)``.

    Those are the ``unknown`` ones and the ``pending`` ones without a Stripe id (their sender died).  Only the
    holder of the refund claim calls this, so none of them is being sent by anyone else.
    """
    session = get_state().db.session
    unfinished = session.scalars(
        sa.select(StripeRefund)
        .where(
            StripeRefund.charge_id == charge.id,
            StripeRefund.stripe_refund_id.is_(None),
            StripeRefund.status.in_([RefundStatus.UNKNOWN, RefundStatus.PENDING]),
        )
        .order_by(StripeRefund.id)
    ).all()
    for row in unfinished:
        yield row, _settle(charge, row)


def _settle(charge: StripeCharge, row: StripeRefund) -> bool:
    """Learn from Stripe what became of *row*, record it, and commit; ``True`` if the refund was made."""
    if row.created_at is None or utcnow() - row.created_at > KEY_REPLAY_WINDOW:
        # Stripe may have forgotten the key: a replay would then refund a second time.  Look for it first.
        try:
            found = _find_at_stripe(charge, row)
        except errors.StripeRequestError:
            row.status = RefundStatus.UNKNOWN
            get_state().db.session.commit()
            raise
        if found is not None:
            return _record(charge, row, found, None)
        # Not among the charge's refunds: it was never made, and sending it now makes it once.
    try:
        answer = _post(charge, row)
    except errors.StripeRequestError as exc:
        if isinstance(exc, errors.OutcomeUnknownError | errors.IdempotencyError):
            raise
        if isinstance(exc, errors.RateLimitError | errors.AuthenticationError):
            row.status = RefundStatus.UNKNOWN  # not carried out this time: still not known
            get_state().db.session.commit()
            raise
        # Refused with its own key: had the first request been carried out, Stripe would have said so.
        row.status = RefundStatus.FAILED
        row.failure_reason = (exc.code or "refund_failed")[:100]
        freshness.remember(row, {"error": exc.raw})
        get_state().db.session.commit()
        return False
    # The answer may be a replay of an older state of the charge: the figure is read afresh afterwards.
    return _record(charge, row, answer, None)


def _find_at_stripe(charge: StripeCharge, row: StripeRefund) -> dict[str, Any] | None:
    """The refund Stripe made for *row*, among the charge's refunds (by the ``refund_id`` in its metadata)."""
    for item in get_state().gateway.list_all("/v1/refunds", _target(charge)):
        metadata = item.get("metadata") if isinstance(item, Mapping) else None
        if (
            isinstance(metadata, Mapping)
            and metadata.get("refund_id") == str(row.id)
            and metadata.get("charge_id") == str(charge.id)
        ):
            return item
    return None

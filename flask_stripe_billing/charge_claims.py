"""The claim a process holds on a charge while it talks to Stripe.

A charge is claimed (``pending`` → ``in_flight``) with a conditional ``UPDATE`` committed before any request,
so that only one process sends it.  The claim is a lease of :data:`CLAIM_LEASE`: a charge whose runner was
killed is taken again once it has run out, and resolved by replaying its stored idempotency key.  Each step
here commits on its own, so no row lock is ever held across a network call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from .models.base import utcnow
from .models.charge import ChargeStatus, StripeCharge
from .state import get_state

#: How long a claim lasts.  A charge still ``in_flight`` after that (its runner was killed) is taken again, and
#: resolved by replaying its stored idempotency key.
CLAIM_LEASE = dt.timedelta(minutes=10)


def claim(
    charge: StripeCharge, *, idempotency_key: str | None, owner: str = "charge()", lease: dt.timedelta = CLAIM_LEASE
) -> bool:
    """Take *charge* for this process with a conditional ``UPDATE`` and commit; ``False`` if another won it.

    The row becomes ``in_flight`` with a lease of *lease*, its attempt count goes up and, when
    given, *idempotency_key* is stored — all committed before any request is sent.
    """
    session = get_state().db.session
    now = utcnow()
    expected = charge.status
    values: dict[str, Any] = {
        "status": ChargeStatus.IN_FLIGHT,
        "claimed_by": owner[:64],
        "claimed_until": now + lease,
        "attempts": StripeCharge.attempts + 1,
        "updated_at": now,
    }
    if idempotency_key is not None:
        values.update(
            idempotency_key=idempotency_key,
            idempotency_key_created_at=now,
            failure_code=None,
            decline_code=None,
            failure_message=None,
            charge_attempt_failed=False,
            # A new attempt makes a new PaymentIntent; the old one stays in Stripe's records.
            stripe_payment_intent_id=None,
            stripe_charge_id=None,
            payment_intent_client_secret=None,
        )
    condition = sa.and_(StripeCharge.id == charge.id, StripeCharge.status == expected)
    if expected == ChargeStatus.IN_FLIGHT:
        # A charge whose runner died: take it only once its lease has run out, and only once.
        condition = sa.and_(condition, sa.or_(StripeCharge.claimed_until.is_(None), StripeCharge.claimed_until < now))
    result = session.execute(sa.update(StripeCharge).where(condition).values(**values))
    session.commit()
    session.refresh(charge)
    return int(getattr(result, "rowcount", 0) or 0) == 1


def claim_is_live(charge: StripeCharge) -> bool:
    """Whether another process may be sending *charge* now (its lease has not run out)."""
    return charge.claimed_until is not None and charge.claimed_until > utcnow()


def store_new_key(charge: StripeCharge) -> None:
    """Give *charge* an idempotency key, committed before any request.  Only the first key ever stored wins.

    Should two runners hold the row (one whose lease ran out while it was slow), both then send the same key,
    and Stripe carries the request out once.
    """
    session = get_state().db.session
    key = get_state().gateway.new_idempotency_key("charge", "create")
    session.execute(
        sa.update(StripeCharge)
        .where(StripeCharge.id == charge.id, StripeCharge.idempotency_key.is_(None))
        .values(idempotency_key=key, idempotency_key_created_at=utcnow())
    )
    session.commit()
    session.refresh(charge)


def release(charge: StripeCharge, status: ChargeStatus) -> None:
    """Give up the claim, leaving *status* (and whatever else was set on the row) on it, and commit."""
    charge.status = status
    finish(charge)


def give_back(charge: StripeCharge) -> None:
    """Release a claim that sent nothing this time: ``unknown`` if the charge has a key (an earlier attempt may
    have been charged with it), else ``pending``."""
    release(charge, ChargeStatus.UNKNOWN if charge.idempotency_key else ChargeStatus.PENDING)


def finish(charge: StripeCharge) -> None:
    """Drop the claim (unless still in flight: ``processing``) and commit."""
    if charge.status != ChargeStatus.IN_FLIGHT:
        charge.claimed_by = None
        charge.claimed_until = None
    else:
        charge.claimed_until = None  # nobody holds it: the next run re-reads the PaymentIntent
    get_state().db.session.commit()

"""The claims a process holds on a charge while it talks to Stripe: to charge it, or to refund it.

A charge is claimed (``pending`` → ``in_flight``) with a conditional ``UPDATE`` committed before any request,
so that only one process sends it.  The claim is a lease of :data:`CLAIM_LEASE`: a charge whose runner was
killed is taken again once it has run out, and resolved by replaying its stored idempotency key.  Each step
here commits on its own, so no row lock is ever held across a network call.

Refunds of a charged charge are claimed apart (``refund_claimed_until``, :func:`claim_refunds`): one process at
a time decides what remains, stores the refund's key and sends it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..core.state import get_state
from ..models.base import utcnow
from ..models.charge import ChargeStatus, StripeCharge

#: How long a claim lasts.  A charge still ``in_flight`` after that (its runner was killed) is taken again, and
#: resolved by replaying its stored idempotency key.
CLAIM_LEASE = dt.timedelta(minutes=10)

#: ``claimed_by`` of a charge held for a Checkout Session (see :mod:`flask_stripe_billing.charges.checkout_claims`).
CHECKOUT_OWNER = "checkout"


def claimed_values(owner: str, now: dt.datetime, lease: dt.timedelta) -> dict[str, Any]:
    """The columns a claim sets: ``in_flight``, held by *owner* until ``now + lease``, one more attempt."""
    return {
        "status": ChargeStatus.IN_FLIGHT,
        "claimed_by": owner[:64],
        "claimed_until": now + lease,
        "attempts": StripeCharge.attempts + 1,
        "updated_at": now,
    }


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
    values = claimed_values(owner, now, lease)
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


# -- refunds -------------------------------------------------------------------------------------------------

#: How long a refund claim lasts.  A claim whose process was killed runs out after that; the next refund then
#: settles the refund the killed process may have sent (by its stored key) before it makes its own.
REFUND_LEASE = dt.timedelta(minutes=5)


def claim_refunds(charge: StripeCharge, *, lease: dt.timedelta = REFUND_LEASE) -> dt.datetime | None:
    """Take the refunds of *charge* for this process with a conditional ``UPDATE`` and commit.

    Return the claim's end, which :func:`release_refunds` needs, or ``None`` if another process holds a live
    claim.  Nothing stays locked: the claim is a committed lease, like a charge's own claim.
    """
    session = get_state().db.session
    now = utcnow()
    # Whole seconds: the release matches the value read back, and every database keeps seconds exactly.
    until = (now + lease).replace(microsecond=0)
    result = session.execute(
        sa.update(StripeCharge)
        .where(
            StripeCharge.id == charge.id,
            sa.or_(StripeCharge.refund_claimed_until.is_(None), StripeCharge.refund_claimed_until < now),
        )
        .values(refund_claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return until if int(getattr(result, "rowcount", 0) or 0) == 1 else None


def release_refunds(charge: StripeCharge, until: dt.datetime) -> None:
    """Give up the refund claim that ends at *until* (only if it is still this process's own), and commit."""
    session = get_state().db.session
    session.execute(
        sa.update(StripeCharge)
        .where(StripeCharge.id == charge.id, StripeCharge.refund_claimed_until == until)
        .values(refund_claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()

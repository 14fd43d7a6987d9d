"""Charges paid through Checkout: the claim that keeps ``flask stripe charge`` and ``charge()`` away from them.

With ``STRIPE_CHECKOUT`` the pay page sends the customer to a Checkout Session for the charge.  So that the
charge is not also charged off-session while the customer is on that page, it is claimed for Checkout first,
with the claims of :mod:`.claims`:

1. :func:`claim_for_checkout` — a conditional ``UPDATE`` (``pending`` or ``failed`` → ``in_flight``,
   ``claimed_by="checkout"``, a lease lasting until the session expires plus :data:`CLAIM_MARGIN`), committed
   before the session is created.  Of two clicks at once only one wins; the other finds the session the winner
   stores (:func:`store_session_id`), or is asked to try again in a moment while it is being opened;
2. the session is created with an ``expires_at`` of :data:`SESSION_LIFETIME` and stored on the charge; if
   Stripe refuses it, the claim is given back (:func:`give_up_opening`);
3. the session's payment is stored by the return page and the ``checkout.session.*`` webhooks
   (:mod:`flask_stripe_billing.checkout.complete`), which drop the claim (:func:`drop_checkout_claim`); an
   expired or abandoned session gives the charge back (:func:`release_checkout`).

While the lease is live the runner does not take the charge and ``charge()`` refuses it.  Once it has run out,
the session is read before anything is charged (:func:`settle_checkout`): a completed session's payment is
stored and nothing is charged; an open one is expired first (:func:`close_session`).  No Stripe request is sent
while a row is locked: the session is read, then the row claimed or locked and checked again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .. import errors
from ..core.shapes import expandable_id
from ..core.state import get_state
from ..models.base import utcnow
from ..models.charge import ChargeStatus, StripeCharge
from ..models.locks import lock
from .claims import CHECKOUT_OWNER, claim_is_live, claimed_values, finish
from .from_stripe import apply_payment_intent, send_signals
from .intents import is_intent_for

#: How long a Checkout Session for a charge stays open (Stripe takes 30 minutes to 24 hours).
SESSION_LIFETIME = dt.timedelta(hours=1)

#: How long the claim outlasts the session: the time Stripe may take to expire it and to tell us.
CLAIM_MARGIN = dt.timedelta(minutes=10)

#: How long a session may take to be created.  A claim with no session stored after that (the answer was lost)
#: is taken over by the next click: Stripe never showed the customer a page whose address we did not store.
OPENING_WINDOW = dt.timedelta(minutes=5)

#: What :func:`read_checkout_session` expands: the payment the session made.
SESSION_EXPAND = ("payment_intent", "payment_intent.latest_charge")


@dataclass(frozen=True)
class CheckoutClaim:
    """A charge claimed by :func:`claim_for_checkout`, for the session about to be created."""

    #: The session's ``expires_at`` (seconds since the epoch).
    expires_at: int
    #: The claim's end (``claimed_until``): it names the claim in the conditional updates that follow.
    until: dt.datetime


def awaits_checkout(charge: StripeCharge) -> bool:
    """Whether *charge* waits for its Checkout Session: a session is stored and its payment is not (yet)."""
    return (
        charge.status == ChargeStatus.IN_FLIGHT
        and charge.stripe_checkout_session_id is not None
        and charge.stripe_payment_intent_id is None
        and not charge.is_charged
    )


def is_checkout_claim(charge: StripeCharge) -> bool:
    """Whether *charge* is held for Checkout: its session is open or being opened, or its outcome not yet read."""
    return awaits_checkout(charge) or (
        charge.status == ChargeStatus.IN_FLIGHT
        and charge.claimed_by == CHECKOUT_OWNER
        and charge.stripe_payment_intent_id is None
        and not charge.is_charged
    )


def is_opening(charge: StripeCharge) -> bool:
    """Whether a Checkout Session is being opened for *charge* (claimed for it, none stored yet)."""
    return (
        charge.status == ChargeStatus.IN_FLIGHT
        and charge.claimed_by == CHECKOUT_OWNER
        and charge.stripe_checkout_session_id is None
        and claim_is_live(charge)
    )


def claim_for_checkout(charge: StripeCharge) -> CheckoutClaim | None:
    """Claim *charge* for a new Checkout Session with a conditional ``UPDATE``, and commit.

    Taken: a ``pending`` or ``failed`` charge, or one whose session was never stored though its opening began
    more than :data:`OPENING_WINDOW` ago.  The PaymentIntent of an earlier attempt is forgotten (the session
    makes a new one); a declined charge keeps ``charge_attempt_failed``, so that giving it back restores
    ``failed``.  Return the claim, or ``None`` if the charge cannot be taken (another click won it).
    """
    session = get_state().db.session
    # Whole seconds: the claim's end names it in later updates, and every database keeps seconds exactly.
    now = utcnow().replace(microsecond=0)
    expires = now + SESSION_LIFETIME
    until = expires + CLAIM_MARGIN
    stale_opening = sa.and_(
        StripeCharge.status == ChargeStatus.IN_FLIGHT,
        StripeCharge.claimed_by == CHECKOUT_OWNER,
        StripeCharge.stripe_checkout_session_id.is_(None),
        StripeCharge.stripe_payment_intent_id.is_(None),
        StripeCharge.claimed_until < until - OPENING_WINDOW,
    )
    condition = sa.and_(
        StripeCharge.id == charge.id,
        StripeCharge.is_charged.is_(False),
        sa.or_(StripeCharge.status.in_([ChargeStatus.PENDING, ChargeStatus.FAILED]), stale_opening),
    )
    values: dict[str, Any] = {
        **claimed_values(CHECKOUT_OWNER, now, until - now),
        "stripe_checkout_session_id": None,
        "stripe_payment_intent_id": None,
        "stripe_charge_id": None,
        "payment_intent_client_secret": None,
    }
    result = session.execute(
        sa.update(StripeCharge).where(condition).values(**values).execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(charge)
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return None
    return CheckoutClaim(expires_at=int(expires.timestamp()), until=until)


def store_session_id(charge: StripeCharge, claim: CheckoutClaim, session_id: str) -> bool:
    """Store the session created under *claim* on *charge*, and commit; ``False`` if the claim was taken over."""
    return _update_held(charge, claim, stripe_checkout_session_id=session_id)


def give_up_opening(charge: StripeCharge, claim: CheckoutClaim) -> None:
    """Give back a claim whose session Stripe refused to create: the charge is ``pending`` (or ``failed``) again."""
    _update_held(charge, claim, status=earlier_status(), claimed_by=None, claimed_until=None)


def _update_held(charge: StripeCharge, claim: CheckoutClaim, **values: Any) -> bool:
    """Set *values* on *charge* if *claim* still holds it with no session stored; commit."""
    session = get_state().db.session
    result = session.execute(
        sa.update(StripeCharge)
        .where(
            StripeCharge.id == charge.id,
            StripeCharge.status == ChargeStatus.IN_FLIGHT,
            StripeCharge.claimed_by == CHECKOUT_OWNER,
            StripeCharge.claimed_until == claim.until,
            StripeCharge.stripe_checkout_session_id.is_(None),
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(charge)
    return int(getattr(result, "rowcount", 0) or 0) == 1


def earlier_status() -> sa.ColumnElement[str]:
    """The status a charge claimed for Checkout had before: ``failed`` if its last attempt was declined."""
    return sa.case((StripeCharge.charge_attempt_failed.is_(True), ChargeStatus.FAILED), else_=ChargeStatus.PENDING)


def release_checkout(charge: StripeCharge, session_id: str) -> bool:
    """Give *charge* back (``pending``, or ``failed`` after a declined attempt) once its session *session_id*
    has expired unpaid.  Locks the row (no Stripe request may follow before the commit); does not commit.

    ``False`` (nothing changed) when the charge no longer waits for that session, or a runner holding a live
    claim on it is settling it.
    """
    row = lock(charge)
    if not awaits_checkout(row) or row.stripe_checkout_session_id != session_id:
        return False
    if row.claimed_by != CHECKOUT_OWNER and claim_is_live(row):
        return False
    row.status = ChargeStatus.FAILED if row.charge_attempt_failed else ChargeStatus.PENDING
    row.claimed_by = row.claimed_until = row.stripe_checkout_session_id = None
    row.updated_at = utcnow()
    return True


def drop_checkout_claim(charge: StripeCharge) -> None:
    """Drop a Checkout claim once the session's payment is stored on *charge* (no commit).

    A payment still ``processing`` stays ``in_flight`` with no lease: ``flask stripe charge`` then re-reads its
    PaymentIntent, as for any charge in flight.
    """
    if charge.claimed_by == CHECKOUT_OWNER:
        charge.claimed_by = None
        charge.claimed_until = None


# -- a lapsed claim: read the session before charging --------------------------------------------------------


def read_checkout_session(session_id: str) -> dict[str, Any]:
    """The Checkout Session as Stripe has it now, with its PaymentIntent expanded."""
    return get_state().gateway.request("get", f"/v1/checkout/sessions/{session_id}", {"expand": list(SESSION_EXPAND)})


def close_session(session_id: str) -> dict[str, Any]:
    """The session, read after expiring it if it was open: once this returns a session that is not ``open``,
    nobody can pay it any more (unless it is ``complete``: then it was paid first).

    An open session is expired (``POST .../expire``, with an idempotency key) and read again whatever the answer:
    a refusal means the customer completed it meanwhile, and the second read says so.
    """
    data = read_checkout_session(session_id)
    if data.get("status") != "open":
        return data
    gateway = get_state().gateway
    key = gateway.new_idempotency_key("checkout_session", "expire")
    # Refused (completed meanwhile) or no answer: the session as read again decides.
    with contextlib.suppress(errors.StripeRequestError):
        gateway.request("post", f"/v1/checkout/sessions/{session_id}/expire", idempotency_key=key)
    return read_checkout_session(session_id)


def settle_checkout(charge: StripeCharge) -> bool:
    """Before charging *charge*, whose Checkout claim has lapsed: close its session (:func:`close_session`) and,
    if it was completed, store its payment.  Return whether it was (then nothing must be charged).

    :raises flask_stripe_billing.errors.ChargeStateError: the session is still open (it could not be expired).
    :raises flask_stripe_billing.errors.StripeRequestError: Stripe could not be asked.
    """
    session_id = charge.stripe_checkout_session_id
    assert session_id is not None
    data = close_session(session_id)
    status = data.get("status")
    if status == "complete":
        store_checkout_payment(charge, data)
        return True
    if status == "open":
        raise errors.ChargeStateError(
            f"Charge {charge.id}: its Checkout Session {session_id} is still open and could not be expired; "
            "it is not charged while the customer may still pay there."
        )
    return False


def store_checkout_payment(charge: StripeCharge, data: Mapping[str, Any]) -> StripeCharge:
    """Store the payment of the completed session *data* on *charge*, drop the claim, commit, and signal.

    :raises flask_stripe_billing.errors.ChargeStateError: the session's PaymentIntent is not one for *charge*
        (nothing is stored or charged; a person must look).
    """
    intent: Any = data.get("payment_intent")
    intent_id = expandable_id(intent)
    if intent_id is not None and not isinstance(intent, Mapping):
        intent = get_state().gateway.request("get", f"/v1/payment_intents/{intent_id}", {"expand": ["latest_charge"]})
    if not isinstance(intent, Mapping) or not is_intent_for(charge, intent):
        raise errors.ChargeStateError(
            f"Charge {charge.id}: its Checkout Session {data.get('id')} is complete, but its payment is not one "
            "for this charge; it is not charged."
        )
    row = lock(charge)
    before = row.status
    if not row.is_charged and row.stripe_payment_intent_id in (None, intent_id):
        apply_payment_intent(row, intent)
    drop_checkout_claim(row)
    finish(row)  # a payment still processing stays in flight, without a lease: the next run re-reads it
    send_signals(row, before)
    return row


def forget_session(charge: StripeCharge) -> None:
    """Forget the expired, unpaid session of a charge this process has claimed to charge it, and commit."""
    charge.stripe_checkout_session_id = None
    get_state().db.session.commit()

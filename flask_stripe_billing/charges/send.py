"""Charges: one-off payments through PaymentIntents that are never made twice.

A charge goes through four steps, each in its own short transaction, so that no row lock is ever held across a
network call and a crash at any point leaves a row that says what to do next:

1. **Check** the row (:func:`~flask_stripe_billing.charges.checks.check_chargeable`): a bad amount, currency or
   statement descriptor, or a charge already charged, raises :class:`~flask_stripe_billing.errors.ChargeStateError`
   before anything changes.
2. **Claim** it (:mod:`flask_stripe_billing.charges.claims`): ``pending`` → ``in_flight``, with an idempotency key
   stored on the row and committed *before* the request is sent.  The claim is a conditional ``UPDATE`` (only one
   process can win it); ``flask stripe charge`` claims many rows at once (:mod:`flask_stripe_billing.charges.runner`).
3. **Send** one ``POST /v1/payment_intents`` (off-session, confirmed at once, the customer's default card) with
   that key (:mod:`flask_stripe_billing.charges.intents`).
4. **Record** Stripe's answer (:mod:`flask_stripe_billing.charges.from_stripe`), commit, then send the signal.

An answer that never arrived (a 5xx, a timeout, a connection lost) leaves the charge ``unknown``: the next
attempt sends the *same* request with the *same* key, and Stripe answers with what it did the first time.
Refunds are in :mod:`flask_stripe_billing.charges.refunds`.
"""

from __future__ import annotations

from typing import Any, TypedDict

from typing_extensions import Unpack

from .. import errors
from ..core.shapes import expandable_id
from ..core.state import get_state
from ..models import freshness
from ..models.charge import ChargeStatus, StripeCharge
from ..models.customer import StripeCustomer
from ..models.locks import lock
from .checkout_claims import awaits_checkout, release_checkout, settle_checkout
from .checks import check_charge_input, check_chargeable, check_idempotency_key
from .claims import claim, finish, give_back, release, store_new_key
from .from_stripe import (
    apply_card_error,
    apply_payment_intent,
    card_error_from_row,
    confirm_url_for,
    record_failure,
    send_signals,
)
from .intents import fetch_payment_intent, find_payment_intent, key_may_be_forgotten, payment_intent_params


def charge(charge: StripeCharge, idempotency_key: str | None = None) -> StripeCharge:
    """Charge the subscriber's default card for *charge*, off-session, through a PaymentIntent.

    Outcomes, each committed before its signal is sent:

    * success — ``status == "succeeded"``, ``is_charged``, Stripe's ids stored;
      :data:`~flask_stripe_billing.signals.stripe_charge_succeeded`; the charge is returned;
    * declined — ``status == "failed"``, ``charge_attempt_failed``, ``failure_code`` / ``decline_code`` /
      ``failure_message`` set; :data:`~flask_stripe_billing.signals.stripe_charge_card_exception`;
      :class:`~flask_stripe_billing.errors.CardError` raised.  ``flask stripe charge`` never retries it;
      calling this function again makes a new attempt (with a new key);
    * authentication needed (3-D Secure) — ``status == "requires_action"``, the client secret kept;
      :data:`~flask_stripe_billing.signals.payment_needs_action`;
      :class:`~flask_stripe_billing.errors.PaymentActionRequired` raised;
    * no answer (5xx, timeout, connection lost) — ``status == "unknown"``;
      :class:`~flask_stripe_billing.errors.OutcomeUnknownError` raised.  The next call (or ``flask stripe
      charge``) replays the same key and adopts Stripe's answer;
    * no active customer — ``failure_code == "no_customer"`` recorded, the charge stays ``pending``;
      :class:`~flask_stripe_billing.errors.NoCustomerError` raised;
    * paid through Checkout — a charge whose Checkout claim has lapsed has its session read first
      (:func:`~flask_stripe_billing.charges.checkout_claims.settle_checkout`): if the customer paid there, the
      payment is stored and the charge returned without charging it; an open session is expired first.

    :param idempotency_key: a key of your own for a new attempt; by default one is made through
        ``STRIPE_IDEMPOTENCY_KEY_CALLBACK``.  A charge whose outcome is unknown always replays its stored key.
    :raises flask_stripe_billing.errors.ChargeStateError: bad input or state (see
        :func:`~flask_stripe_billing.charges.checks.check_chargeable`), raised before any Stripe request with
        nothing changed.
    """
    check_chargeable(charge)
    check_idempotency_key(idempotency_key)
    if awaits_checkout(charge) and _paid_through_checkout(charge):
        return charge
    replaying = _must_replay(charge)
    if replaying and idempotency_key is not None and idempotency_key != charge.idempotency_key:
        raise errors.ChargeStateError(
            f"Charge {charge.id} may have been charged with key {charge.idempotency_key!r}; it is replayed with "
            "that key, not a new one."
        )
    # The row as the caller left it is what gets sent: save it (and anything else pending in the session) now,
    # so that no write is held open across the key record's own commit or the request.
    session = get_state().db.session
    session.add(charge)
    session.commit()
    customer = customer_for(charge)
    if customer is None:
        record_no_customer(charge)
    if not replaying:
        idempotency_key = idempotency_key or get_state().gateway.new_idempotency_key("charge", "create")
    if not claim(charge, idempotency_key=None if replaying else idempotency_key):
        raise errors.ChargeStateError(f"Charge {charge.id} was just taken by another process.")
    return send_claimed(charge, customer)


def _paid_through_checkout(charge: StripeCharge) -> bool:
    """A charge whose Checkout claim has lapsed: whether its session was paid (and the payment now stored); if
    not, the session is expired and the charge given back (``pending`` or ``failed``), ready to be charged."""
    session_id = charge.stripe_checkout_session_id
    assert session_id is not None
    if settle_checkout(charge):
        return True
    released = release_checkout(charge, session_id)
    get_state().db.session.commit()
    if not released:
        raise errors.ChargeStateError(f"Charge {charge.id} was just taken by another process.")
    return False


def _must_replay(charge: StripeCharge) -> bool:
    """Whether the charge's stored key may already have reached Stripe (and so must be used again).

    Every status but ``failed`` keeps its key: ``unknown`` and ``in_flight`` may have been charged, and a
    ``pending`` charge with a key was sent back after a 429 (which Stripe did not carry out).  A declined
    charge is charged again only on request, as a new attempt with a new key.
    """
    return bool(charge.idempotency_key) and charge.status != ChargeStatus.FAILED


def customer_for(charge: StripeCharge) -> StripeCustomer | None:
    """The customer to charge: the charge's own if set and active, else the subscriber's latest active one;
    ``None`` if there is none, or it has no default card."""
    customer = charge.customer
    if customer is None or not customer.is_active or not customer.stripe_customer_id:
        subscriber = charge.subscriber
        customer = None if subscriber is None else StripeCustomer.get_latest_active_customer_for_user(subscriber)
    return customer if customer is not None and customer.default_source else None


def record_no_customer(charge: StripeCharge) -> None:
    """Record on the row that there is no customer to charge, commit, and raise ``NoCustomerError``.

    The charge stays ``pending``: once the subscriber saves a card, the next run charges it.  Until then every
    ``flask stripe charge`` run reports it.
    """
    message = "The subscriber has no active Stripe customer with a default card to charge."
    charge.failure_code = "no_customer"
    charge.failure_message = message
    get_state().db.session.commit()
    raise errors.NoCustomerError(f"Charge {charge.id}: {message}")


def send_claimed(charge: StripeCharge, customer: StripeCustomer | None) -> StripeCharge:
    """Send the PaymentIntent of a charge this process has claimed, record the answer, and signal it.

    Used by :func:`charge` and by ``flask stripe charge`` once a row is claimed.  A charge that already has a
    PaymentIntent (its answer arrived, e.g. ``processing``) is re-read instead of sent again.
    """
    if customer is None:
        customer = customer_for(charge)
        if customer is None:
            give_back(charge)
            record_no_customer(charge)
    assert customer is not None
    if customer.id != charge.customer_id:
        # Stored before the request: a replay after a lost answer pays with the same customer (same request).
        charge.customer_id = customer.id
        get_state().db.session.commit()
    if charge.stripe_payment_intent_id:
        return _resolve_by_reading(charge)
    if not charge.idempotency_key:
        store_new_key(charge)
    elif key_may_be_forgotten(charge):
        try:
            found = find_payment_intent(charge)
        except errors.StripeRequestError:
            release(charge, ChargeStatus.UNKNOWN)
            raise
        if found is not None:
            charge.stripe_payment_intent_id = expandable_id(found.get("id"))
            return _resolve_by_reading(charge)
        # Never made: Stripe forgot the key, and the request it stands for had not been carried out.
    try:
        intent = get_state().gateway.request(
            "post",
            "/v1/payment_intents",
            payment_intent_params(charge, customer),
            idempotency_key=charge.idempotency_key,
        )
    except errors.StripeRequestError as exc:
        if _recorded_meanwhile(charge):
            return charge
        return _record_error(charge, exc)
    if _recorded_meanwhile(charge):
        return charge
    apply_payment_intent(charge, intent)
    finish(charge)
    return _announce(charge, ChargeStatus.IN_FLIGHT)


def _recorded_meanwhile(charge: StripeCharge) -> bool:
    """Re-read the row after the request: a webhook may have recorded the success while we waited (then its
    signal was sent, and nothing is left to do but drop the claim)."""
    # Locked (PostgreSQL) until the commit that follows, with no request in between: a webhook recording the
    # success at this moment then waits, and only one of the two sends the signal.
    lock(charge)
    if not charge.is_charged:
        return False
    finish(charge)
    return True


def _record_error(charge: StripeCharge, exc: errors.StripeRequestError) -> StripeCharge:
    """Record what Stripe's refusal (or silence) means for the charge, and raise it (or what replaces it)."""
    if isinstance(exc, errors.CardError):
        apply_card_error(charge, exc)
        finish(charge)
        return _announce(charge, ChargeStatus.IN_FLIGHT, exc)
    if isinstance(exc, errors.OutcomeUnknownError):
        release(charge, ChargeStatus.UNKNOWN)
    elif isinstance(exc, errors.IdempotencyError):
        # The row changed since its key was first sent: the first request may have charged; a person must look.
        charge.failure_code, charge.failure_message = "idempotency_error", exc.message
        release(charge, ChargeStatus.UNKNOWN)
    elif isinstance(exc, (errors.RateLimitError, errors.AuthenticationError)):
        # Stripe did not carry the request out: back to pending, key kept (the retry is the same request).
        release(charge, ChargeStatus.PENDING)
    else:
        record_failure(charge, exc.code or "invalid_request", exc.message)
        if exc.raw:
            freshness.remember(charge, {"error": exc.raw})
        finish(charge)
    raise exc


def _resolve_by_reading(charge: StripeCharge) -> StripeCharge:
    """A charge whose PaymentIntent exists: re-read it rather than send anything."""
    before = charge.status
    try:
        intent = fetch_payment_intent(charge)
    except errors.StripeRequestError:
        release(charge, ChargeStatus.IN_FLIGHT)  # still unresolved; the next run reads it again
        raise
    apply_payment_intent(charge, intent)
    finish(charge)
    return _announce(charge, before)


def _announce(charge: StripeCharge, before: str, exc: errors.CardError | None = None) -> StripeCharge:
    """Send the signal for a change of status (the change is committed) and raise what the caller must see."""
    if charge.status == before:
        return charge
    send_signals(charge, before, exc)
    if charge.status == ChargeStatus.FAILED:
        raise exc or card_error_from_row(charge)
    if charge.status == ChargeStatus.REQUIRES_ACTION:
        raise errors.PaymentActionRequired(
            f"Charge {charge.id} needs the customer to authenticate the payment.",
            charge_id=charge.id,
            payment_intent_id=charge.stripe_payment_intent_id,
            client_secret=charge.payment_intent_client_secret,
            confirm_url=confirm_url_for(charge),
        )
    return charge


def refresh_charge(charge: StripeCharge) -> StripeCharge:
    """Re-read the charge's PaymentIntent from Stripe (e.g. after the customer confirmed it), apply, commit, and
    send the signal of any change.  Unlike :func:`charge`, nothing is raised for a decline or a needed action.

    :raises flask_stripe_billing.errors.ChargeStateError: the charge has no PaymentIntent yet.
    """
    if not charge.stripe_payment_intent_id:
        raise errors.ChargeStateError(f"Charge {charge.id} has no PaymentIntent at Stripe yet.")
    before = charge.status
    apply_payment_intent(charge, fetch_payment_intent(charge))
    get_state().db.session.commit()
    send_signals(charge, before)
    return charge


class ChargeOptions(TypedDict, total=False):
    """What :func:`charge_subscriber` (and ``BillableMixin.charge``) accept besides the amount."""

    #: Default: ``STRIPE_DEFAULT_CURRENCY``.
    currency: str
    #: Sent to Stripe (shown in the Dashboard and on the receipt).
    description: str
    #: Kept here only.
    comment: str
    statement_descriptor: str
    #: What the charge is for in the host application (``"order"``, ``"42"``).
    source_type: str
    source_id: str
    #: A key of the caller's, instead of a new one (see :func:`charge`).
    idempotency_key: str


def charge_subscriber(subscriber: Any, amount: int, **options: Unpack[ChargeOptions]) -> StripeCharge:
    """Store a charge of *amount* (minor units) for *subscriber* and charge it at once; see :func:`charge` for
    the outcomes and errors.  Calls Stripe.  *options* are those of :class:`ChargeOptions`.

    :raises TypeError: for an option that is not one of them (nothing is stored).
    :raises flask_stripe_billing.errors.NoCustomerError: the subscriber has no active customer with a default
        card; nothing is stored (so cron does not take up a charge that was refused).
    :raises flask_stripe_billing.errors.ChargeStateError: a bad amount, currency or statement descriptor;
        nothing is stored.
    """
    unknown = set(options) - set(ChargeOptions.__annotations__)
    if unknown:
        raise TypeError(f"charge() got unexpected option(s): {', '.join(sorted(unknown))}")
    state = get_state()
    customer = StripeCustomer.get_latest_active_customer_for_user(subscriber)
    if customer is None or not customer.default_source:
        raise errors.NoCustomerError(f"{subscriber!r} has no active Stripe customer with a default card.")
    columns = {name: value for name, value in options.items() if name not in ("currency", "idempotency_key")}
    row = StripeCharge(
        amount=amount,
        currency=options.get("currency") or state.config.default_currency,
        customer_id=customer.id,
        **columns,
    )
    check_charge_input(row)
    row.subscriber = subscriber
    state.db.session.add(row)
    state.db.session.commit()
    return charge(row, options.get("idempotency_key"))

"""The customer a Checkout Session is made for: the subscriber's own, created without a card when there is none.

Checkout collects the card itself, so the customer is created first with only the subscriber's e-mail and
metadata.  Two requests at once (two tabs, a double click) must not make two customers; without a row lock
held across the request, that is done with a *claim*:

1. the subscriber's row is locked (``SELECT ... FOR UPDATE``; PostgreSQL and MariaDB) for as long as it takes
   to look for a claim and, finding none, to insert one — a ``StripeCustomer`` not yet created at Stripe, with
   its idempotency key — and commit;
2. whoever comes second finds that claim and sends *its* request, with *its* key: Stripe carries it out once
   and answers both with the same customer;
3. the answer is stored on the claim with a conditional ``UPDATE``: exactly one caller stores it and sends
   :data:`~flask_stripe_billing.signals.customer_created`.

SQLite has no row locks, but it commits one writer at a time, so row ids follow commits: of two claims the
older one (the lower id) is the one both callers use.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import errors, signals
from ..core.notify import send_committed
from ..core.state import get_state
from ..customers.from_stripe import apply_stripe_customer
from ..models.base import subscriber_key
from ..models.customer import StripeCustomer


def checkout_customer(subscriber: Any) -> StripeCustomer:
    """The subscriber's customer in use, or a new one created at Stripe without a card.  **Calls Stripe**
    when there is none.

    Never makes a second customer, even when called twice at the same moment (see the module's text).  The
    caller's session is committed.

    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses (the claim is then given up)
        or cannot be reached (:class:`~flask_stripe_billing.errors.OutcomeUnknownError`: the claim is kept,
        and the next call replays its key).
    """
    existing = StripeCustomer.get_latest_active_customer_for_user(subscriber)
    if existing is not None:
        return existing
    state = get_state()
    session = state.db.session
    key = subscriber_key(subscriber)
    # The key first: the default key factory writes on its own connection, which must not wait for ours.
    own_key = state.gateway.new_idempotency_key("customer", "create")
    session.commit()
    _lock_subscriber(subscriber, key)
    if _first_claim(key) is None:
        session.add(StripeCustomer(subscriber_id=key, idempotency_key=own_key))
    session.commit()
    claim = _first_claim(key)
    assert claim is not None
    if claim.is_created_at_stripe:
        return claim
    params = customer_params(subscriber, key)
    try:
        data = _post(claim, params)
    except errors.IdempotencyError:
        # The oldest claim is a card being saved right now (other parameters): make this customer apart.
        claim = StripeCustomer(subscriber_id=key, idempotency_key=own_key)
        session.add(claim)
        session.commit()
        data = _post(claim, params)
    return _store_created(claim, data)


def customer_params(subscriber: Any, key: Any) -> dict[str, Any]:
    """``POST /v1/customers`` for *subscriber*: its e-mail, and metadata naming it (the same for every caller, so
    that a replayed key finds the same parameters)."""
    metadata = {"subscriber_id": str(key), "subscriber_type": type(subscriber).__name__}
    params: dict[str, Any] = {"metadata": metadata}
    email = getattr(subscriber, "email", None)
    if email:
        params["email"] = str(email)
        metadata["subscriber_email"] = str(email)
    return params


def _lock_subscriber(subscriber: Any, key: Any) -> None:
    """Lock the subscriber's row until the next commit (a no-op on SQLite)."""
    model = type(subscriber)
    column = sa.inspect(model).primary_key[0]
    get_state().db.session.execute(sa.select(column).where(column == key).with_for_update())


def _first_claim(key: Any) -> StripeCustomer | None:
    """The subscriber's oldest active customer row, created at Stripe or not, read afresh."""
    query = (
        sa.select(StripeCustomer)
        .where(StripeCustomer.subscriber_id == key, StripeCustomer.is_active.is_(True))
        .order_by(StripeCustomer.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return get_state().db.session.scalars(query).first()


def _post(claim: StripeCustomer, params: dict[str, Any]) -> dict[str, Any]:
    """Send the claim's request; a refusal gives the claim up (an unknown outcome keeps it for a replay)."""
    try:
        return get_state().gateway.request("post", "/v1/customers", params, idempotency_key=claim.idempotency_key)
    except errors.IdempotencyError:
        raise
    except errors.OutcomeUnknownError:
        raise
    except errors.StripeRequestError:
        _give_up(claim)
        raise


def _give_up(claim: StripeCustomer) -> None:
    session = get_state().db.session
    session.execute(
        sa.update(StripeCustomer)
        .where(StripeCustomer.id == claim.id, StripeCustomer.is_created_at_stripe.is_(False))
        .values(is_active=False)
    )
    session.commit()


def _store_created(claim: StripeCustomer, data: dict[str, Any]) -> StripeCustomer:
    """Store Stripe's customer on the claim once (a conditional ``UPDATE``), commit, and signal it once."""
    session = get_state().db.session
    result = session.execute(
        sa.update(StripeCustomer)
        .where(StripeCustomer.id == claim.id, StripeCustomer.is_created_at_stripe.is_(False))
        .values(stripe_customer_id=data["id"], is_created_at_stripe=True, is_active=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(claim)
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return claim
    apply_stripe_customer(claim, data)
    session.commit()
    send_committed(signals.customer_created, StripeCustomer, instance=claim)
    return claim

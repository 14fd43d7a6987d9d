"""``flask stripe charge``: charge every pending charge, safely from cron, even when runs overlap.

A run claims charges a few at a time with one statement that is committed before any Stripe request:

* PostgreSQL: ``WITH picked AS (SELECT id … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE … FROM picked … RETURNING
  id`` — two runs never wait for each other and never take the same row;
* SQLite: the same statement without the lock clause: SQLite runs one writing statement at a time, so the
  condition is checked and the claim made atomically;
* MariaDB (10.6 and later) and MySQL (8.0 and later), which take neither a CTE before an ``UPDATE`` nor
  ``RETURNING`` on one: ``SELECT id … LIMIT n FOR UPDATE SKIP LOCKED``, then ``UPDATE … WHERE id IN (…)`` in
  the same short transaction — the rows are locked by this run until it commits, so the update takes exactly
  them and an overlapping run skips them.

A charge claimed for Checkout (:mod:`.checkout_claims`) is ``in_flight`` with a lease that lasts as long as its
session: no run takes it meanwhile.  Once that lease has run out, a run reads the session before charging: a
completed session's payment is stored instead (counted as settled by another process), an open one is expired.

A claim is a lease (``claimed_until``).  A runner killed mid-run leaves its charges ``in_flight``; once the lease
has run out another run takes them and replays their stored idempotency key — never a new one — so Stripe
answers with what it did, if anything.  Claimed charges are sent by a pool of threads, each in its own
application context and database session, under the gateway's ``STRIPE_REQUESTS_PER_SECOND`` limiter; a 429
slows every thread down and the charge is tried again later in the run.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import sqlalchemy as sa
from flask import Flask, current_app

from .. import errors
from ..core.batch import BatchSummary
from ..core.retry import OUTCOME_UNKNOWN, RATE_LIMITED
from ..core.state import get_state
from ..models.base import utcnow
from ..models.charge import ChargeStatus, StripeCharge
from .checkout_claims import awaits_checkout, forget_session, settle_checkout
from .checks import check_charge_input
from .claims import CLAIM_LEASE, claim, claimed_values, give_back, release
from .send import send_claimed

#: At most this many threads by default, whatever the request rate: each holds up to two database connections.
MAX_DEFAULT_WORKERS = 8

#: What can become of a charge in a run.  Declines and charges waiting for the customer are outcomes, not
#: errors; ``skipped``: claimed, then found deleted or settled by someone else (a webhook) before it was sent.
RUN_OUTCOMES = ("succeeded", "declined", "requires_action", "processing", "skipped")


def charge_run_line(summary: BatchSummary) -> str:
    """The summary line ``flask stripe charge`` prints at the end of a run."""
    return (
        f"Charged {summary.succeeded} of {summary.total} charge(s): {summary.declined} declined, "
        f"{summary.requires_action} need customer action, {summary.processing} processing, "
        f"{summary.errors} error(s)."
        + (f" {summary.skipped} settled meanwhile by another process." if summary.skipped else "")
    )


def chargeable(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Charges a run takes: pending or unknown, or in flight with a lapsed lease; never manual, charged or declined."""
    return sa.and_(
        StripeCharge.is_manual_charge.is_(False),
        StripeCharge.is_charged.is_(False),
        StripeCharge.charge_attempt_failed.is_(False),
        sa.or_(
            StripeCharge.status.in_([ChargeStatus.PENDING, ChargeStatus.UNKNOWN]),
            sa.and_(
                StripeCharge.status == ChargeStatus.IN_FLIGHT,
                sa.or_(StripeCharge.claimed_until.is_(None), StripeCharge.claimed_until < now),
            ),
        ),
    )


def claim_batch(owner: str, limit: int, *, after_id: int = 0, lease: dt.timedelta = CLAIM_LEASE) -> list[int]:
    """Claim up to *limit* chargeable charges with ids above *after_id* for *owner*; commit; return their ids.

    Ids are taken in ascending order and a run moves past what it took, so a charge released during a run
    (no customer, an unknown outcome) waits for the next run instead of being taken again and again.
    """
    session = get_state().db.session
    now = utcnow()
    candidates = (
        sa.select(StripeCharge.id)
        .where(chargeable(now), StripeCharge.id > after_id)
        .order_by(StripeCharge.id)
        .limit(limit)
    )
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "mysql"):
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = claimed_values(owner, now, lease)
    if dialect == "mysql":  # MariaDB too
        ids = sorted(session.scalars(candidates))
        if ids:
            session.execute(
                sa.update(StripeCharge)
                .where(StripeCharge.id.in_(ids))
                .values(**claimed)
                .execution_options(synchronize_session=False)
            )
        session.commit()
        return ids
    # A CTE, evaluated once: as an ``IN (subquery)`` PostgreSQL may scan the subquery again for each row it
    # updates, and each new scan skips the rows just updated and locks further ones, beyond the limit.
    picked = candidates.cte("picked")
    statement = (
        sa.update(StripeCharge)
        .where(StripeCharge.id == picked.c.id, chargeable(now))
        .values(**claimed)
        .returning(StripeCharge.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(session.scalars(statement))
    session.commit()
    return ids


def runner_name() -> str:
    """Who holds a claim: host, process and a random part (``claimed_by``)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def default_workers() -> int:
    """Enough threads to reach ``STRIPE_REQUESTS_PER_SECOND`` with Stripe's usual ~0.3 s per request."""
    rate = get_state().config.requests_per_second
    return max(1, min(MAX_DEFAULT_WORKERS, math.ceil(rate / 2)))


def run_charges(
    *,
    workers: int | None = None,
    lease: dt.timedelta = CLAIM_LEASE,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchSummary:
    """Charge every chargeable charge once; return what happened.  Call it in an application context.

    :param workers: threads sending requests (default: :func:`default_workers`).
    :param lease: how long each claim lasts; a charge still in flight after that is taken by another run.
    :param on_progress: called with 1 after each charge.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    owner = runner_name()
    workers = workers or default_workers()
    summary = BatchSummary(*RUN_OUTCOMES)
    queue_size = workers * 2
    cursor = 0
    exhausted = False
    running: set[Future[str]] = set()
    names: dict[Future[str], int] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="stripe-charge") as pool:
        while True:
            while not exhausted and len(running) < queue_size:
                ids = claim_batch(owner, queue_size - len(running), after_id=cursor, lease=lease)
                if not ids:
                    exhausted = True
                    break
                cursor = ids[-1]
                for charge_id in ids:
                    future = pool.submit(_process, app, charge_id, owner, lease, sleep)
                    running.add(future)
                    names[future] = charge_id
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                _count(summary, names.pop(future), future)
                if on_progress is not None:
                    on_progress(1)
    return summary


def _count(summary: BatchSummary, charge_id: int, future: Future[str]) -> None:
    error = future.exception()
    if error is None:
        outcome = future.result()
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    elif isinstance(error, errors.CardError):
        summary.declined += 1
    elif isinstance(error, errors.PaymentActionRequired):
        summary.requires_action += 1
    else:
        summary.failures.add(f"charge {charge_id}", error)


def _process(app: Flask, charge_id: int, owner: str, lease: dt.timedelta, sleep: Callable[[float], None]) -> str:
    """Send one claimed charge in a thread of the pool; return the outcome or raise what went wrong."""
    with app.app_context():
        session = get_state().db.session
        charge = session.get(StripeCharge, charge_id)
        if charge is None or charge.claimed_by != owner:
            return "skipped"  # deleted, or settled meanwhile (a webhook recorded its outcome)
        try:
            _check(charge)
            if awaits_checkout(charge) and _paid_through_checkout(charge):
                return "skipped"  # the customer paid on the Checkout page: stored, nothing charged
            return _send_with_retries(charge, owner, lease, sleep)
        except errors.BillingError:
            raise
        except Exception:
            _give_up(charge_id)
            raise


def _check(charge: StripeCharge) -> None:
    """Refuse bad input (:func:`~flask_stripe_billing.charges.checks.check_charge_input`), giving the charge back as it
    was."""
    try:
        check_charge_input(charge)
    except errors.ChargeStateError:
        give_back(charge)
        raise


def _paid_through_checkout(charge: StripeCharge) -> bool:
    """A claimed charge whose Checkout claim had lapsed: read (and if open, expire) its session first.  Whether it
    was paid there; if not, the session is forgotten and the charge is charged.  When the session cannot be
    settled, the charge is left in flight without a lease, for the next run."""
    try:
        if settle_checkout(charge):
            return True
    except errors.BillingError:
        release(charge, ChargeStatus.IN_FLIGHT)
        raise
    forget_session(charge)
    return False


def _send_with_retries(charge: StripeCharge, owner: str, lease: dt.timedelta, sleep: Callable[[float], None]) -> str:
    rate_limited = unknown = 0
    while True:
        try:
            send_claimed(charge, None)
        except errors.RateLimitError:
            rate_limited += 1
            if RATE_LIMITED.gives_up_after(rate_limited):
                raise
            sleep(RATE_LIMITED.pause(rate_limited))
        except errors.OutcomeUnknownError:
            unknown += 1
            if OUTCOME_UNKNOWN.gives_up_after(unknown):
                raise
            sleep(OUTCOME_UNKNOWN.pause(unknown))
        else:
            return "processing" if charge.status == ChargeStatus.IN_FLIGHT else "succeeded"
        if not claim(charge, idempotency_key=None, owner=owner, lease=lease):
            return "skipped"  # released above, then taken by an overlapping run: it is that run's now


def _give_up(charge_id: int) -> None:
    """After an unexpected error, leave the charge ``unknown`` if it has a key (it may have been sent)."""
    session = get_state().db.session
    session.rollback()
    charge = session.get(StripeCharge, charge_id)
    if charge is not None and charge.status == ChargeStatus.IN_FLIGHT:
        if awaits_checkout(charge):
            release(charge, ChargeStatus.IN_FLIGHT)  # its Checkout Session is read again by the next run
        else:
            give_back(charge)

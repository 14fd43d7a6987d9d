"""``flask stripe refresh-customers``: every local customer brought up to date from Stripe, in batches."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from .. import errors
from ..core.batch import BatchSummary
from ..core.retry import Backoff
from ..core.state import get_state
from ..models.customer import StripeCustomer
from .verbs import refresh_customer

#: Errors after which a refresh is tried again, after a pause.
TRANSIENT_ERRORS = (errors.RateLimitError, errors.OutcomeUnknownError)


def refresh_all_customers(
    *,
    batch_size: int = 100,
    max_attempts: int = 4,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Refresh every local customer created at Stripe, *batch_size* rows in memory at a time.

    Requests share the gateway's rate limit; a 429 or a transient error is retried up to *max_attempts*
    times, waiting *backoff* seconds, doubled after each attempt.  A customer deleted at Stripe is marked
    inactive and counted as missing.  *on_progress* is called with the number of customers done after each.
    """
    session = get_state().db.session
    summary = BatchSummary("updated", "unchanged", "missing")
    last_id = 0
    while True:
        batch = list(
            session.scalars(
                sa.select(StripeCustomer)
                .where(StripeCustomer.id > last_id, StripeCustomer.stripe_customer_id.is_not(None))
                .order_by(StripeCustomer.id)
                .limit(batch_size)
            )
        )
        if not batch:
            return summary
        for customer in batch:
            _refresh_counted(customer, summary, max_attempts=max_attempts, backoff=backoff, sleep=sleep)
            if on_progress is not None:
                on_progress(1)
        last_id = batch[-1].id
        for customer in batch:
            session.expunge(customer)


def _refresh_counted(
    customer: StripeCustomer,
    summary: BatchSummary,
    *,
    max_attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> None:
    """Refresh one customer, retrying transient errors, and count the outcome in *summary*."""
    before = (customer.is_active, customer.sources, customer.default_source)
    policy = Backoff(attempts=max_attempts, first=backoff, ceiling=float("inf"))
    for tries in range(1, max_attempts + 1):
        try:
            refresh_customer(customer)
            break
        except TRANSIENT_ERRORS as exc:
            if policy.gives_up_after(tries):
                summary.failures.add(f"customer {customer.stripe_customer_id}", exc)
                return
            sleep(policy.pause(tries))
        except errors.StripeRequestError as exc:
            summary.failures.add(f"customer {customer.stripe_customer_id}", exc)
            return
    if before[0] and not customer.is_active:
        summary.missing += 1
    elif before != (customer.is_active, customer.sources, customer.default_source):
        summary.updated += 1
    else:
        summary.unchanged += 1

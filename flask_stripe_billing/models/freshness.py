"""Stripe object -> row: the rule that an older view of an object never overwrites a newer one.

Every model mirroring a Stripe object keeps ``stripe_synced_at``: when the data it holds was current at Stripe.
For data carried by an event that is the event's ``created`` time; for data fetched from the API it is the
time of the fetch, rounded *down* to the second (events carry whole seconds, so an event created in the same
second as a fetch is not mistaken for an older one).

Stripe delivers events out of order and sometimes twice.  We compare times rather than re-reading every
object from Stripe on every event because the comparison costs no request (a burst of events stays within
the rate limit and the webhook answers fast) and works when Stripe is unreachable.  An event exactly as old
as the row (the same second) is applied: Stripe gives nothing finer to order them by, and the next event or
``refresh`` command repairs the rare tie.  Handlers whose payload is known to be partial re-read the object,
with no row locked during the request, and store the read as current at the time it was made.  A handler
compares times on a row it has locked (``SELECT ... FOR UPDATE`` on PostgreSQL), so that two workers applying
events for one object at once cannot let the older one win
(:mod:`flask_stripe_billing.models.locks` holds the pattern).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .base import StripeObjectMixin, utcnow


def fetched_now() -> dt.datetime:
    """The ``stripe_synced_at`` of data fetched from the API just now (whole seconds, see above)."""
    return utcnow().replace(microsecond=0)


def is_older(row: StripeObjectMixin, seen_at: dt.datetime | None) -> bool:
    """Whether data current at *seen_at* is older than what *row* already holds (and must not be applied).

    Data of unknown age (``seen_at`` is ``None``) is never taken as older.
    """
    return seen_at is not None and row.stripe_synced_at is not None and seen_at < row.stripe_synced_at


def remember(row: StripeObjectMixin, data: Mapping[str, Any], seen_at: dt.datetime | None = None) -> None:
    """Keep *data* as the row's last raw Stripe object, current at *seen_at* (default: fetched now)."""
    row.stripe_response = dict(data)
    row.stripe_synced_at = seen_at or fetched_now()

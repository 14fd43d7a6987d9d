"""Built-in handlers for customer events: keep ``StripeCustomer.sources``, ``default_source`` and ``is_active``.

Three kinds of event, three ways of applying them:

* ``customer.updated`` carries the whole customer.  It is applied with
  :func:`~flask_stripe_billing.customers.from_stripe.apply_stripe_customer` unless the row already holds newer data
  (:func:`~flask_stripe_billing.models.freshness.is_older`: the event's ``created`` against the row's
  ``stripe_synced_at``). Old API versions include the card list (``sources``) and it replaces ours; current ones leave
  it out unless expanded, and then only the default card is taken and our cards are kept.  The payload is re-read from
  Stripe instead when it cannot be complete: the card list has more pages (``has_more``), or the default card
  is one we have no summary of (its brand and last four digits are not in the event).
* ``customer.source.*`` and ``payment_method.*`` carry one card, not the customer.  Patching our card list
  from them would have to order each card's events on its own, and a late, older ``customer.updated`` (which
  does carry a card list in old versions) would undo the patch; so the customer is re-read from Stripe, and
  the result, current as of the read (:func:`~flask_stripe_billing.models.freshness.fetched_now`), replaces the row's
  cards.  A late, older ``customer.updated`` then finds a newer row and changes nothing.  The re-read is done
  whatever the card event's age: a newer ``customer.updated`` without a card list may have been applied
  before it, and the read is never older than the row.  ``payment_method.detached`` names its former
  customer in ``previous_attributes``.
* ``customer.deleted`` marks the row inactive whatever its age (one ``UPDATE``), since a deletion is final.

**No Stripe request while holding a row lock** (the pattern of :mod:`flask_stripe_billing.models.locks`).  The
dispatcher runs the handlers in one transaction and commits once.  A handler that re-reads looks the row up with a plain
``SELECT`` (PostgreSQL takes row locks only for writes and ``SELECT ... FOR UPDATE``; SQLite's driver opens its write
transaction at the first write), with autoflush off, so that nothing a ``webhook_pre_parse`` receiver added is flushed
before the request; then it reads the customer from Stripe, and only then locks the row (``SELECT ... FOR UPDATE`` on
PostgreSQL) and compares times again, since another worker may have stored a newer read meanwhile.  Every handler that
writes locks the row before comparing, so two events for one customer processed at the same moment are applied one after
the other and the newer one wins.  (SQLite has no row locks: it serialises the writes, but two processes may still
compare before either writes; use PostgreSQL or MariaDB with several workers.)  A Stripe outage while re-reading
fails the event, which ``flask stripe replay-webhooks --failed`` retries.

Events about customers this application does not mirror are ignored, as are events about a legacy
``src_`` source, which does not name its customer (``flask stripe refresh-customers`` picks those up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...core.shapes import expandable_id
from ...core.state import get_state
from ...customers.from_stripe import apply_stripe_customer, default_source_id, read_customer, summarize_sources
from ...models import StripeCustomer, StripeWebhook
from ...models.freshness import fetched_now, is_older
from ...models.locks import find, lock
from ..events import event_object, event_time, previous_attributes

#: Events whose object is one card (a card source or a payment method) of a customer.
CARD_EVENTS = (
    "customer.source.created",
    "customer.source.updated",
    "customer.source.deleted",
    "customer.source.expiring",
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
    "payment_method.automatically_updated",
)


def customer_updated(webhook: StripeWebhook) -> None:
    """Apply the customer in the event, unless the row holds newer data; re-read it if the event is partial."""
    data = event_object(webhook)
    seen_at = event_time(webhook)
    found = find(StripeCustomer, stripe_customer_id=_customer_id(data))
    if found is None or is_older(found, seen_at):
        return
    if _is_partial(data, found):
        _reread(found, webhook)
    else:
        _store(found, data, seen_at)


def customer_deleted(webhook: StripeWebhook) -> None:
    """Mark the customer's row inactive: a deleted customer cannot be charged, and is never undeleted."""
    stripe_customer_id = _customer_id(event_object(webhook))
    if stripe_customer_id:  # one UPDATE, no comparison: nothing may undo a deletion
        get_state().db.session.execute(
            sa.update(StripeCustomer)
            .where(StripeCustomer.stripe_customer_id == stripe_customer_id)
            .values(is_active=False)
        )


def card_changed(webhook: StripeWebhook) -> None:
    """A card was added, changed, removed or is expiring: re-read its customer's cards from Stripe."""
    data = event_object(webhook)
    owner = expandable_id(data.get("customer")) or expandable_id(previous_attributes(webhook).get("customer"))
    found = find(StripeCustomer, stripe_customer_id=owner)
    if found is not None:
        # Whatever the event's age: a newer customer.updated of a current API version carries no cards, so
        # a row newer than this event may still lack its card.  The read is current, hence never older.
        _reread(found, webhook)


def _customer_id(data: Mapping[str, Any]) -> str | None:
    """The id of a customer object (``None`` for anything else)."""
    if data.get("object") not in (None, "customer"):
        return None
    return expandable_id(data.get("id"))


def _reread(found: StripeCustomer, webhook: StripeWebhook) -> None:
    """Read the customer from Stripe (no lock held), then store it unless a newer read got there first.

    The read is current as of now, and at least as of the event that asked for it (Stripe created the event
    before sending it; taking the later of the two keeps a clock running behind Stripe's from making the
    read look older than that event).
    """
    assert found.stripe_customer_id is not None
    created = event_time(webhook)
    seen_at: dt.datetime = max(fetched_now(), created) if created is not None else fetched_now()
    _store(found, read_customer(found.stripe_customer_id), seen_at)


def _store(found: StripeCustomer, data: Mapping[str, Any], seen_at: dt.datetime | None) -> None:
    """Lock the row, then apply *data* unless the row holds newer data (stored meanwhile by another worker)."""
    customer = lock(found)
    if not is_older(customer, seen_at):
        apply_stripe_customer(customer, data, seen_at)


def _is_partial(data: Mapping[str, Any], customer: StripeCustomer) -> bool:
    """Whether a ``customer.updated`` payload lacks cards we need: more pages, or an unknown default card."""
    sources = data.get("sources")
    if isinstance(sources, Mapping) and sources.get("has_more"):
        return True
    listed = {card["id"] for card in summarize_sources(data)}
    default = default_source_id(data)
    return default is not None and default not in customer.card_ids | listed

"""The built-in handlers, one module per kind of object; importing this package registers them.

Each handler is a small function registered with :func:`~flask_stripe_billing.webhooks.handles` for the event
types it understands.  It reads the event's object (:mod:`..events`), finds the local row by Stripe id and
locks it (:mod:`.rows`), and applies the object with the same function the verbs use (``apply_stripe_*``),
unless the row already holds newer data (:func:`flask_stripe_billing.sync.is_older`).  It changes rows in the
session without committing: the dispatcher commits once, with the event's status.  An event about an object we
do not mirror is ignored.
"""

from . import charges, coupons, customers, subscriptions

__all__ = ["charges", "coupons", "customers", "subscriptions"]

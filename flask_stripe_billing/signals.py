"""Signals sent by flask-stripe-billing (blinker).

Every signal is sent only after the change it reports has been committed to the database, so a receiver can
read the new state, enqueue work, or send an e-mail without seeing something that may still roll back.
Connect with ``signal.connect(receiver)``; the receiver gets the sender as its first argument and the
keyword arguments listed with each signal.

Since the change is already committed, a receiver that raises cannot undo it, and does not make it fail: the
extension sends every signal with :func:`~flask_stripe_billing.core.notify.send_committed`, which logs the receiver's
error (and reports it to Sentry when ``sentry_sdk`` is initialised), discards what the receiver left uncommitted in the
session, and goes on with the other receivers.  The caller gets its result as if nothing had happened; a webhook event
stays processed and is not run again.
"""

from __future__ import annotations

import logging

from blinker import Namespace

logger = logging.getLogger(__name__)

_signals = Namespace()

stripe_charge_succeeded = _signals.signal("stripe-charge-succeeded")
"""A charge went through.  Sender: the ``StripeCharge`` class.  Keyword arguments: ``instance`` (the charge).

:meta hide-value:
"""

stripe_charge_card_exception = _signals.signal("stripe-charge-card-exception")
"""A charge was declined.  Sender: the ``StripeCharge`` class.  Keyword arguments: ``instance`` (the charge),
``exception`` (the :class:`~flask_stripe_billing.errors.CardError`).

:meta hide-value:
"""

stripe_charge_refunded = _signals.signal("stripe-charge-refunded")
"""A refund was made.  Sender: the ``StripeCharge`` class.  Keyword arguments: ``instance`` (the charge),
``refund`` (the ``StripeRefund``).

:meta hide-value:
"""

payment_needs_action = _signals.signal("payment-needs-action")
"""A payment needs the customer to authenticate (3-D Secure).  Sender: the ``StripeCharge`` class.  Keyword
arguments: ``instance`` (the charge), ``confirm_url`` (the page where the customer confirms it, or ``None``).

:meta hide-value:
"""

customer_created = _signals.signal("customer-created")
"""A customer was created at Stripe.  Sender: the ``StripeCustomer`` class.  Keyword arguments: ``instance``.

:meta hide-value:
"""

subscription_created = _signals.signal("subscription-created")
"""A subscription was created at Stripe.  Sender: the ``StripeSubscription`` class.  Keyword arguments:
``instance``.

:meta hide-value:
"""

subscription_updated = _signals.signal("subscription-updated")
"""A subscription's status, plan, period, cancel-at-period-end or paused payment collection changed, here or at
Stripe (a refresh, a plan switch, a webhook).  Sender: the ``StripeSubscription`` class.  Keyword arguments:
``instance``.

:meta hide-value:
"""

subscription_canceled = _signals.signal("subscription-canceled")
"""A subscription was canceled (now, or at period end).  Sender: the ``StripeSubscription`` class.  Keyword
arguments: ``instance``, ``at_period_end`` (bool: ``True`` while it runs to the end of the paid period, status
``canceling``).  Sent by ``cancel()``, ``refresh_from_stripe()`` and the subscription webhooks (after the
event is committed); a later end of a ``canceling`` subscription comes as :data:`subscription_updated`.

:meta hide-value:
"""

coupon_synced = _signals.signal("coupon-synced")
"""A coupon was created, updated or deleted, here or in the Stripe Dashboard.  Sender: the ``StripeCoupon``
class.  Keyword arguments: ``instance``, ``action`` (``"created"``, ``"updated"`` or ``"deleted"``).

:meta hide-value:
"""

webhook_pre_parse = _signals.signal("webhook-pre-parse")
"""A stored event is about to be processed.  Sender: the ``StripeWebhook`` class.  Keyword arguments:
``instance`` (the ``StripeWebhook``), ``event_type`` (``"customer.subscription.updated"``), ``event_model``
(``"customer.subscription"``) and ``event_action`` (``"updated"``) — split at the last dot; both ``None`` for
``ping``.

:meta hide-value:
"""

webhook_post_parse = _signals.signal("webhook-post-parse")
"""A stored event was processed and the built-in handlers' changes committed.  Same arguments as
:data:`webhook_pre_parse`.

:meta hide-value:
"""

"""Subscriptions: subscribing, refreshing, cancelling, switching plans.

Every verb follows the order of :mod:`flask_stripe_billing.customers.verbs`: checks first (a clear error and nothing
changed), Stripe next, then a short commit, then signals.  The predicates (:func:`active_subscription`,
:func:`is_subscribed`) read only the database, so the subscription gate never calls Stripe.

``STRIPE_PRORATION_POLICY`` decides what a cancellation and a plan switch cost:

* ``False`` (the default): cancelling during a trial is immediate; otherwise the subscription runs to the end of
  the period already paid for (status ``canceling`` until then) and nothing is refunded.  A plan switch takes
  effect at once and the next invoice bills the new amount (``proration_behavior=none``).
* ``True``: cancelling is immediate and prorated — Stripe issues a final invoice crediting the unused time
  (``prorate`` and ``invoice_now``), and that credit is refunded to the card that paid the last invoice
  (:func:`~flask_stripe_billing.subscriptions.proration.refund_unused_time`).  A plan switch is prorated and invoiced at
  once (``proration_behavior=always_invoice``).  Answers are stored by
  :mod:`~flask_stripe_billing.subscriptions.from_stripe`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .. import errors
from ..core.shapes import expandable_id, list_data
from ..core.state import get_state
from ..models.base import subscriber_key, utcnow
from ..models.plan import StripeSubscriptionPlan
from ..models.subscription import LIVE_STATUSES, StripeSubscription, SubscriptionStatus
from ..plans.lookup import resolve_plan
from .create import awaiting_first_payment, check_plan, create_subscription, subscribe
from .from_stripe import require_created, store_and_signal
from .proration import refund_unused_time

__all__ = [
    "active_subscription",
    "awaiting_first_payment",
    "cancel_subscription",
    "cancels_at_period_end",
    "change_plan",
    "create_subscription",
    "is_subscribed",
    "refresh_subscription",
    "subscribe",
]

# -- predicates (database only) ------------------------------------------------------------------------------


def active_subscription(subscriber: Any) -> StripeSubscription | None:
    """The subscriber's newest subscription that still runs at Stripe, or ``None``.  Reads only the database."""
    query = (
        sa.select(StripeSubscription)
        .where(
            StripeSubscription.subscriber_id == subscriber_key(subscriber),
            StripeSubscription.status.in_([str(status) for status in LIVE_STATUSES]),
        )
        .order_by(StripeSubscription.created_at.desc(), StripeSubscription.id.desc())
    )
    return get_state().db.session.scalars(query).first()


def is_subscribed(
    subscriber: Any,
    plan: StripeSubscriptionPlan | None = None,
    *,
    allow_past_due: bool = True,
    now: dt.datetime | None = None,
) -> bool:
    """Whether the subscriber has a subscription giving access now (to *plan*, if given).

    Active subscriptions count (past-due ones unless *allow_past_due* is false), trials until they end, one
    canceled at period end until that end, none past its local ``end_date``: the gate's rule.  One query.
    """
    now = now or utcnow()
    statuses = set(LIVE_STATUSES) if allow_past_due else set(LIVE_STATUSES) - {SubscriptionStatus.PAST_DUE}
    query = sa.select(StripeSubscription).where(
        StripeSubscription.subscriber_id == subscriber_key(subscriber),
        StripeSubscription.status.in_(sorted(str(status) for status in statuses)),
        sa.or_(StripeSubscription.end_date.is_(None), StripeSubscription.end_date > now),
    )
    if plan is not None:
        query = query.where(StripeSubscription.plan_id == plan.id)
    return any(subscription.is_valid(now) for subscription in get_state().db.session.scalars(query))


# -- refreshing ----------------------------------------------------------------------------------------------


def refresh_subscription(subscription: StripeSubscription) -> StripeSubscription:
    """Re-read *subscription* from Stripe, store it, and send the signals for what changed.  Calls Stripe.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    """
    stripe_id = require_created(subscription)
    data = get_state().gateway.request("get", f"/v1/subscriptions/{stripe_id}")
    store_and_signal(subscription, data)
    return subscription


# -- cancelling ----------------------------------------------------------------------------------------------


def cancels_at_period_end(subscription: StripeSubscription) -> bool:
    """Whether cancelling *subscription* now lets it run to the end of its period, by ``STRIPE_PRORATION_POLICY``.

    With the default policy a subscription on trial ends at once, any other at the end of the period already
    paid for; with proration every cancellation is immediate (and the unused part refunded).  One whose first
    payment never went through (``incomplete``) always ends at once.
    """
    if subscription.status == SubscriptionStatus.INCOMPLETE:
        return False  # nothing was paid for: it ends now
    return not get_state().config.proration_policy and not subscription.on_trial()


def cancel_subscription(subscription: StripeSubscription, at_period_end: bool | None = None) -> StripeSubscription:
    """Cancel *subscription* at Stripe.  Calls Stripe.

    :param at_period_end: ``True`` — it runs to the end of the paid period (status ``canceling`` until Stripe
        ends it); ``False`` — it ends now; ``None`` — per ``STRIPE_PRORATION_POLICY`` (see the module): now during
        a trial, otherwise at period end (``False``) or now with a refund of the unused time (``True``).

    A subscription already canceled at Stripe is not an error: the row is brought up to date.  Sends
    :data:`~flask_stripe_billing.signals.subscription_canceled` after the commit.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    """
    stripe_id = require_created(subscription)
    if subscription.status == SubscriptionStatus.CANCELED:
        if subscription.refund_due:
            _refund_unused_time(subscription)  # an earlier cancellation's refund did not finish
        return subscription
    policy = get_state().config.proration_policy
    on_trial = subscription.on_trial()
    if at_period_end is None:
        at_period_end = cancels_at_period_end(subscription)
    if at_period_end and subscription.status == SubscriptionStatus.CANCELING:
        return subscription  # already set to end with its period
    # Only a period that was paid for has unused time to give back (not a past-due or unpaid one).
    paid_for = subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELING)
    refund = not at_period_end and policy and not on_trial and paid_for
    gateway = get_state().gateway
    try:
        if at_period_end:
            data = gateway.request(
                "post",
                f"/v1/subscriptions/{stripe_id}",
                {"cancel_at_period_end": True},
                object_type="subscription",
                action="cancel_at_period_end",
            )
        else:
            params = {"prorate": True, "invoice_now": True} if refund else {}
            data = gateway.request(
                "delete", f"/v1/subscriptions/{stripe_id}", params, object_type="subscription", action="cancel"
            )
    except errors.InvalidRequestError as exc:
        data = _already_canceled(stripe_id, exc)
        refund = False
    # Committed with the cancellation: should the refund fail, cancel() again finishes it (its keys are fixed).
    subscription.refund_due = refund
    store_and_signal(subscription, data)
    if refund:
        _refund_unused_time(subscription)
    return subscription


def _refund_unused_time(subscription: StripeSubscription) -> None:
    refund_unused_time(subscription)
    subscription.refund_due = False
    get_state().db.session.commit()


def _already_canceled(stripe_id: str, refusal: errors.InvalidRequestError) -> dict[str, Any]:
    """After Stripe refused a cancellation: the subscription if it is canceled (or gone) already; otherwise the
    refusal is raised again."""
    try:
        data = get_state().gateway.request("get", f"/v1/subscriptions/{stripe_id}")
    except errors.InvalidRequestError as exc:
        if not exc.is_missing:
            raise refusal from exc
        # Unknown at Stripe (deleted, or another account or mode): nothing runs there any more.
        return {"id": stripe_id, "status": SubscriptionStatus.CANCELED, "ended_at": int(utcnow().timestamp())}
    if data.get("status") not in (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED):
        raise refusal
    return data


# -- switching plans -----------------------------------------------------------------------------------------


def change_plan(subscription: StripeSubscription, plan: StripeSubscriptionPlan | str) -> StripeSubscription:
    """Switch *subscription* to *plan* (a row, a Price id or a lookup key) at once.  Calls Stripe.

    Not prorated (``proration_behavior=none``: the next invoice bills the new amount) unless
    ``STRIPE_PRORATION_POLICY`` is true (``always_invoice``: the difference for the rest of the period is
    invoiced now).  Sends :data:`~flask_stripe_billing.signals.subscription_updated` after the commit.

    :raises flask_stripe_billing.errors.PlanError: for a plan that cannot be found or is no longer offered.
    :raises flask_stripe_billing.errors.SubscriptionError: for a subscription not created at Stripe or no
        longer running, a plan not created at Stripe, or the plan it already has.
    """
    stripe_id = require_created(subscription)
    plan = resolve_plan(plan)
    check_plan(plan)
    if subscription.status not in LIVE_STATUSES:
        raise errors.SubscriptionError(f"Subscription {stripe_id} is {subscription.status}; it cannot change plan.")
    if subscription.plan_id == plan.id:
        raise errors.SubscriptionError(f"Subscription {stripe_id} is already on plan {plan.stripe_plan_id}.")
    gateway = get_state().gateway
    item_id = _first_item_id(subscription.stripe_response or {})
    if item_id is None:
        item_id = _first_item_id(gateway.request("get", f"/v1/subscriptions/{stripe_id}"))
    if item_id is None:
        raise errors.SubscriptionError(f"Subscription {stripe_id} has no item at Stripe to change.")
    policy = get_state().config.proration_policy
    data = gateway.request(
        "post",
        f"/v1/subscriptions/{stripe_id}",
        {
            "items": [{"id": item_id, "price": plan.stripe_price_id}],
            "proration_behavior": "always_invoice" if policy else "none",
            # Choosing a plan means carrying on: a subscription set to end with its period no longer does.
            **({"cancel_at_period_end": False} if subscription.status == SubscriptionStatus.CANCELING else {}),
        },
        object_type="subscription",
        action="change_plan",
    )
    subscription.plan = plan  # Stripe's answer may name the plan in a shape we do not read; we know it
    store_and_signal(subscription, data)
    return subscription


def _first_item_id(data: Mapping[str, Any]) -> str | None:
    items = list_data(data.get("items"))
    return expandable_id(items[0]) if items else None

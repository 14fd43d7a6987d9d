"""Stripe subscription -> ``StripeSubscription`` row, whatever the API version's shape.

The verbs (:mod:`flask_stripe_billing.subscriptions.verbs`) and the webhook handlers
(:mod:`flask_stripe_billing.webhooks.handlers.subscriptions`) store what Stripe says with the same functions:
:func:`apply_stripe_subscription`, or :func:`apply_with_signals` when the change is to be reported.  Both
apply nothing when the row holds newer data (:func:`flask_stripe_billing.models.freshness.is_older`).

Stripe's subscriptions are read in current and older shapes: the period on ``items.data[].current_period_*``
(API 2025-03-31 and later) or at the top level, the plan on the first item (``plan`` or ``price``) or at the
top level, discounts as ``discounts`` (a list) or ``discount`` (one), ids expanded or not, and
``pause_collection`` (``null``, or an object with ``behavior`` and ``resumes_at``) when the version has it.
Objects of the ``stripe`` library are read as well as decoded JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from blinker import Signal

from .. import errors, signals
from ..core.notify import send_committed
from ..core.shapes import could_be_stripe_id, expandable_id, list_data
from ..core.state import get_state
from ..coupons.lookup import get_live_coupon
from ..models import freshness
from ..models.base import from_timestamp
from ..models.customer import StripeCustomer
from ..models.locks import find, find_locked, insert_once
from ..models.plan import StripeSubscriptionPlan
from ..models.subscription import StripeSubscription, SubscriptionStatus
from ..plans.from_stripe import plan_from_stripe_price

#: The fields whose change is reported by :data:`~flask_stripe_billing.signals.subscription_updated`.
WATCHED_FIELDS = (
    "status",
    "plan_id",
    "current_period_start",
    "current_period_end",
    "at_period_end",
    "canceled_at",
    "pause_collection_behavior",
    "pause_collection_resumes_at",
)


def apply_stripe_subscription(
    subscription: StripeSubscription, data: Mapping[str, Any], seen_at: dt.datetime | None = None
) -> None:
    """Copy a Stripe subscription (current or older shape) onto the row, unless the row holds newer data.

    Reads status (``canceling`` while ``cancel_at_period_end`` or ``cancel_at`` is set on a running
    subscription), the period from the items or the top level, trial and cancel times, the customer, the
    plan and the coupon when they are known locally.  Does not commit.
    """
    _apply(subscription, data, seen_at)


def apply_with_signals(
    subscription: StripeSubscription, data: Mapping[str, Any], seen_at: dt.datetime | None
) -> list[tuple[Signal, dict[str, Any]]]:
    """:func:`apply_stripe_subscription`, returning the signals (with their keyword arguments) that report
    the change, for the caller to send once it has committed.

    :data:`~flask_stripe_billing.signals.subscription_canceled` when the subscription became canceled or
    canceling, else :data:`~flask_stripe_billing.signals.subscription_updated` when a field in
    :data:`WATCHED_FIELDS` changed; nothing otherwise.
    """
    was_canceled = _is_canceled(subscription)
    if not _apply(subscription, data, seen_at):
        return []
    if _is_canceled(subscription) and not was_canceled:
        at_period_end = subscription.status == SubscriptionStatus.CANCELING
        return [(signals.subscription_canceled, {"instance": subscription, "at_period_end": at_period_end})]
    return [(signals.subscription_updated, {"instance": subscription})]


def require_created(subscription: StripeSubscription) -> str:
    """The Stripe id of *subscription*.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    """
    if not subscription.is_created_at_stripe or not subscription.stripe_subscription_id:
        raise errors.SubscriptionError(f"{subscription!r} was never created at Stripe.")
    return subscription.stripe_subscription_id


def _apply(subscription: StripeSubscription, data: Mapping[str, Any], seen_at: dt.datetime | None) -> bool:
    """:func:`apply_stripe_subscription`, returning whether a field in :data:`WATCHED_FIELDS` changed."""
    if freshness.is_older(subscription, seen_at):
        return False
    data = _plain(data)
    before = _watched(subscription)
    subscription.stripe_subscription_id = data.get("id") or subscription.stripe_subscription_id
    status = data.get("status")
    at_period_end = bool(data.get("cancel_at_period_end")) or bool(data.get("cancel_at"))
    if isinstance(status, str) and status:
        if at_period_end and status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
            status = SubscriptionStatus.CANCELING
        subscription.status = status
    subscription.at_period_end = at_period_end and subscription.status != SubscriptionStatus.CANCELED
    start, end = _period(data)
    subscription.current_period_start = start or subscription.current_period_start
    subscription.current_period_end = end or subscription.current_period_end
    subscription.canceled_at = from_timestamp(data.get("canceled_at"))
    subscription.ended_at = from_timestamp(data.get("ended_at"))
    subscription.trial_start = from_timestamp(data.get("trial_start"))
    subscription.trial_end = from_timestamp(data.get("trial_end"))
    if isinstance(data.get("metadata"), Mapping):
        subscription.metadata_ = dict(data["metadata"])
    if "pause_collection" in data:  # absent from API versions that predate it: nothing to learn
        subscription.pause_collection_behavior, subscription.pause_collection_resumes_at = _pause(
            data["pause_collection"]
        )
    _link_customer(subscription, data)
    _link_plan(subscription, data)
    _link_coupon(subscription, data)
    freshness.remember(subscription, data, seen_at)
    return before != _watched(subscription)


def _plain(value: Any) -> Any:
    """A ``stripe`` library object (a ``StripeObject``, which is not a ``Mapping``) as plain dicts; else as is."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if not isinstance(value, Mapping) and callable(to_dict) else value


def _pause(value: Any) -> tuple[str | None, dt.datetime | None]:
    """``pause_collection`` as ``(behavior, resumes_at)``: ``(None, None)`` when it is ``null`` (not paused).

    Any other object means collection is paused; a behavior that is not a string is kept as ``"unknown"``.
    """
    value = _plain(value)
    if not isinstance(value, Mapping):
        return None, None
    behavior = value.get("behavior")
    resumes_at = value.get("resumes_at")
    valid_time = isinstance(resumes_at, int) and not isinstance(resumes_at, bool)
    return (
        behavior[:32] if isinstance(behavior, str) and behavior else "unknown",
        from_timestamp(resumes_at) if valid_time else None,
    )


def _watched(subscription: StripeSubscription) -> tuple[Any, ...]:
    return tuple(getattr(subscription, name) for name in WATCHED_FIELDS)


def _is_canceled(subscription: StripeSubscription) -> bool:
    """Whether it has ended or is set to end with its period."""
    return subscription.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.CANCELING)


def _items(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [item for item in list_data(data.get("items")) if isinstance(item, Mapping)]


def _period(data: Mapping[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The current period: on the items (API 2025-03-31 and later), else at the top level (older versions)."""
    items = _items(data)
    starts = [item["current_period_start"] for item in items if item.get("current_period_start")]
    ends = [item["current_period_end"] for item in items if item.get("current_period_end")]
    start = min(starts) if starts else data.get("current_period_start")
    end = max(ends) if ends else data.get("current_period_end")
    return from_timestamp(start), from_timestamp(end)


def _link_customer(subscription: StripeSubscription, data: Mapping[str, Any]) -> None:
    customer_id = expandable_id(data.get("customer"))
    if customer_id and (subscription.customer is None or subscription.customer.stripe_customer_id != customer_id):
        customer = (
            get_state()
            .db.session.scalars(sa.select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id))
            .first()
        )
        if customer is not None:
            subscription.customer = customer


def _link_plan(subscription: StripeSubscription, data: Mapping[str, Any]) -> None:
    """Follow a plan change made elsewhere (the Dashboard), when the new plan is one of ours.

    The first item's ``price`` is read first; ``plan`` is the older shape of the same id (a plan is a price).
    """
    candidates = [expandable_id(item.get("price")) or expandable_id(item.get("plan")) for item in _items(data)[:1]]
    candidates.append(expandable_id(data.get("plan")))  # a single-plan subscription in old versions
    for price_id in candidates:
        if not price_id:
            continue
        if subscription.plan is not None and subscription.plan.stripe_price_id == price_id:
            return
        plan = (
            get_state()
            .db.session.scalars(
                sa.select(StripeSubscriptionPlan).where(StripeSubscriptionPlan.stripe_price_id == price_id)
            )
            .first()
        )
        if plan is not None:
            subscription.plan = plan
            return


def _link_coupon(subscription: StripeSubscription, data: Mapping[str, Any]) -> None:
    """The coupon of the first discount: ``discounts`` (expanded objects) or the older single ``discount``."""
    if "discounts" not in data and "discount" not in data:
        return
    discounts = list_data(data.get("discounts"))
    if any(not isinstance(discount, Mapping) for discount in discounts):
        discounts = []  # ids only (not expanded): nothing to learn about the coupon from them
        if not isinstance(data.get("discount"), Mapping):
            return
    if isinstance(data.get("discount"), Mapping):
        discounts.append(data["discount"])
    coupon_id = next((value for value in map(_discount_coupon_id, discounts) if value), None)
    if coupon_id is None:
        subscription.coupon = None
        return
    if subscription.coupon is not None and subscription.coupon.coupon_id == coupon_id:
        return
    coupon = get_live_coupon(coupon_id)
    if coupon is not None:
        subscription.coupon = coupon


def _discount_coupon_id(discount: Mapping[str, Any]) -> str | None:
    source = discount.get("source")
    if isinstance(source, Mapping) and source.get("coupon"):  # API 2025-09-30 and later
        return expandable_id(source["coupon"])
    return expandable_id(discount.get("coupon"))


def store_and_signal(subscription: StripeSubscription, data: Mapping[str, Any]) -> None:
    """Store Stripe's subscription as read now, commit, then send the signals for what changed."""
    pending = apply_with_signals(subscription, data, freshness.fetched_now())
    get_state().db.session.commit()
    for signal, kwargs in pending:
        send_committed(signal, StripeSubscription, **kwargs)


# -- adoption: a subscription made elsewhere (Checkout, the Portal, the Dashboard) for a customer we know --------


def adoptable_customer(data: Mapping[str, Any]) -> StripeCustomer | None:
    """Our customer whose subscription *data* is, when it belongs to a subscriber (else ``None``: not ours)."""
    stripe_id = expandable_id(_plain(data).get("customer"))
    customer = find(StripeCustomer, stripe_customer_id=stripe_id) if could_be_stripe_id(stripe_id) else None
    return customer if customer is not None and customer.subscriber_id is not None else None


def plan_of(data: Mapping[str, Any]) -> StripeSubscriptionPlan | None:
    """The plan of the subscription's first item (its price, or plan), imported when we have none.

    May ask Stripe (a price new to us given by its id only): call it with no row locked, before
    :func:`adopt_subscription`.
    """
    data = _plain(data)
    items = _items(data)
    price = _plain((items[0].get("price") or items[0].get("plan")) if items else data.get("plan"))
    price_id = expandable_id(price)
    if not could_be_stripe_id(price_id):
        return None
    known = find(StripeSubscriptionPlan, stripe_price_id=price_id)
    if known is not None:
        return known
    if not isinstance(price, Mapping) or "unit_amount" not in price:
        price = get_state().gateway.request("get", f"/v1/prices/{price_id}", {"expand": ["product"]})
    try:
        return plan_from_stripe_price(price)
    except errors.PlanError:
        return None  # a price a subscription plan cannot stand for (one-time, tiered): not adopted


def adopt_subscription(
    data: Mapping[str, Any],
    seen_at: dt.datetime | None,
    *,
    customer: StripeCustomer,
    plan: StripeSubscriptionPlan,
    idempotency_key: str | None = None,
) -> tuple[StripeSubscription, list[tuple[Signal, dict[str, Any]]]]:
    """The locked row of the Stripe subscription *data* of *customer*, made when we have none, with *data*
    applied; and the signals to send once committed (``subscription_created`` for a row made here).

    Safe against two deliveries at once: the row is inserted with ``INSERT ... ON CONFLICT DO NOTHING`` on its
    unique Stripe id, so one of them makes it and both then lock it.  A subscription ``subscribe()`` is still
    creating (its answer not stored yet: same subscriber and plan, or the event's idempotency key) is that row,
    not a new one.  No commit.
    """
    data = _plain(data)
    stripe_id = expandable_id(data.get("id"))
    assert stripe_id is not None
    row = find_locked(StripeSubscription, stripe_subscription_id=stripe_id) or _attempt(customer, plan, idempotency_key)
    created = False
    if row is None:
        values = {
            "subscriber_id": customer.subscriber_id,
            "customer_id": customer.id,
            "plan_id": plan.id,
            "stripe_subscription_id": stripe_id,
            "is_created_at_stripe": True,
        }
        created = insert_once(StripeSubscription, values, "stripe_subscription_id")
        row = find_locked(StripeSubscription, stripe_subscription_id=stripe_id)
        assert row is not None
    row.stripe_subscription_id, row.is_created_at_stripe = stripe_id, True
    pending = apply_with_signals(row, data, seen_at)
    if created:
        pending = [(signals.subscription_created, {"instance": row})]
    return row, pending


def _attempt(
    customer: StripeCustomer, plan: StripeSubscriptionPlan, idempotency_key: str | None
) -> StripeSubscription | None:
    """The subscriber's subscription to *plan* sent to Stripe and not answered yet, locked; else ``None``."""
    among = sa.select(StripeSubscription).where(
        StripeSubscription.subscriber_id == customer.subscriber_id,
        StripeSubscription.stripe_subscription_id.is_(None),
        StripeSubscription.stripe_request.is_not(None),
    )
    if idempotency_key:
        keyed = find_locked(StripeSubscription, among=among, idempotency_key=idempotency_key)
        if keyed is not None:
            return keyed
    return find_locked(StripeSubscription, among=among, plan_id=plan.id)

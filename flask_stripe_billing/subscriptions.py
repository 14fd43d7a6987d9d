"""Subscriptions: subscribing, refreshing, cancelling, switching plans.

Every verb follows the order of :mod:`flask_stripe_billing.customers`: checks first (a clear error and nothing
changed), Stripe next, then a short commit, then signals.  The predicates (:func:`active_subscription`,
:func:`is_subscribed`) read only the database, so the subscription gate never calls Stripe.

``STRIPE_PRORATION_POLICY`` decides what a cancellation and a plan switch cost:

* ``False`` (the default): cancelling during a trial is immediate; otherwise the subscription runs to the end of
  the period already paid for (status ``canceling`` until then) and nothing is refunded.  A plan switch takes
  effect at once and the next invoice bills the new amount (``proration_behavior=none``).
* ``True``: cancelling is immediate and prorated — Stripe issues a final invoice crediting the unused time
  (``prorate`` and ``invoice_now``), and that credit is refunded to the card that paid the last invoice
  (:func:`~flask_stripe_billing.proration.refund_unused_time`).  A plan switch is prorated and invoiced at once
  (``proration_behavior=always_invoice``).  Answers are stored by :mod:`~flask_stripe_billing.subscription_sync`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from . import errors, signals, sync
from .coupons import resolve_coupon
from .models.base import subscriber_key, utcnow
from .models.coupon import StripeCoupon
from .models.customer import StripeCustomer
from .models.plan import StripeSubscriptionPlan
from .models.subscription import LIVE_STATUSES, StripeSubscription, SubscriptionStatus
from .proration import refund_unused_time
from .shapes import expandable_id, list_data
from .state import get_state
from .subscription_sync import apply_stripe_subscription, apply_with_signals, require_created

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


# -- creating ------------------------------------------------------------------------------------------------


def subscribe(
    subscriber: Any,
    plan: StripeSubscriptionPlan,
    coupon: StripeCoupon | str | None = None,
    **stripe_options: Any,
) -> StripeSubscription:
    """Subscribe *subscriber* to *plan* (with *coupon*, a row or a coupon id): store it and create it at Stripe.

    Calls Stripe.  ``stripe_options`` go to ``POST /v1/subscriptions`` as they are (``trial_end``, ...), overriding
    what is built here, but ``metadata`` is merged (``subscriber_id`` kept).  If Stripe refuses, the new row is
    deleted; if the outcome is unknown (:class:`~flask_stripe_billing.errors.OutcomeUnknownError`) it is kept, and
    calling this again for the same plan (or
    :meth:`~flask_stripe_billing.models.StripeSubscription.create_at_stripe`) replays the same request with the
    same key, so Stripe answers with what it did instead of creating a second subscription.

    :raises flask_stripe_billing.errors.NoCustomerError: when the subscriber has no active customer (no card).
    :raises flask_stripe_billing.errors.SubscriptionError: for a plan not created at Stripe, or an unknown or
        deleted coupon.
    """
    _check_plan(plan)
    coupon_row = resolve_coupon(coupon, redeeming=_unsettled_attempt(subscriber, plan) is None)
    customer = StripeCustomer.get_latest_active_customer_for_user(subscriber)
    if customer is None:
        raise errors.NoCustomerError(f"{subscriber!r} has no active Stripe customer: add a card first.")
    state = get_state()
    subscription = _unsettled_attempt(subscriber, plan) or StripeSubscription(
        subscriber_id=subscriber_key(subscriber),
        customer_id=customer.id,
        plan_id=plan.id,
        coupon_id=coupon_row.id if coupon_row is not None else None,
        idempotency_key=state.gateway.new_idempotency_key("subscription", "create"),
    )
    state.db.session.add(subscription)
    state.db.session.commit()
    try:
        create_subscription(subscription, **stripe_options)
    except errors.OutcomeUnknownError:
        raise
    except errors.StripeRequestError:
        state.db.session.delete(subscription)
        state.db.session.commit()
        raise
    return subscription


def _unsettled_attempt(subscriber: Any, plan: StripeSubscriptionPlan) -> StripeSubscription | None:
    """The subscriber's earlier attempt at *plan* whose outcome is unknown (sent, never answered), if any."""
    query = sa.select(StripeSubscription).where(
        StripeSubscription.subscriber_id == subscriber_key(subscriber),
        StripeSubscription.plan_id == plan.id,
        StripeSubscription.is_created_at_stripe.is_(False),
        StripeSubscription.stripe_request.is_not(None),
    )
    return get_state().db.session.scalars(query.limit(1)).first()


def create_subscription(subscription: StripeSubscription, **stripe_options: Any) -> dict[str, Any]:
    """Create *subscription* at Stripe and store the answer; return Stripe's subscription, discounts included.

    Calls Stripe.  Nothing is sent before this.  The customer is the subscription's own, or else its
    subscriber's newest active one.  A plan with ``trial_period_days`` starts with that trial.  A coupon is
    sent as ``discounts=[{"coupon": id}]`` (the current API); if Stripe answers that it does not know
    ``discounts`` (an account pinned to an API version from before it), the request is sent again with the
    legacy ``coupon`` parameter.  :data:`~flask_stripe_billing.signals.subscription_created` is sent after the
    commit.  The parameters are stored with the key before the request; when they already are (an earlier
    attempt's answer was lost), exactly those are sent again and *stripe_options* are not used.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was already created, or its plan was not.
    :raises flask_stripe_billing.errors.NoCustomerError: when no active customer can pay for it.
    """
    if subscription.is_created_at_stripe:
        raise errors.SubscriptionError(
            f"Subscription {subscription.stripe_subscription_id!r} was already created at Stripe."
        )
    _check_plan(subscription.plan)
    customer = subscription.customer
    if customer is None or not customer.is_active or not customer.stripe_customer_id:
        subscriber = subscription.subscriber
        customer = StripeCustomer.get_latest_active_customer_for_user(subscriber) if subscriber is not None else None
    if customer is None or not customer.stripe_customer_id:
        raise errors.NoCustomerError(f"{subscription!r}: the subscriber has no active Stripe customer.")
    coupon = resolve_coupon(subscription.coupon, redeeming=subscription.stripe_request is None)
    state = get_state()
    # The key first: the default key factory writes on its own connection, which must not wait for ours.
    subscription.idempotency_key = subscription.idempotency_key or state.gateway.new_idempotency_key(
        "subscription", "create"
    )
    subscription.customer_id = customer.id
    state.db.session.commit()

    if subscription.stripe_request is None:
        subscription.stripe_request = _create_params(subscription, customer, coupon, stripe_options)
        state.db.session.commit()
    data = _post_subscription(subscription)
    subscription.is_created_at_stripe = True
    apply_stripe_subscription(subscription, data)
    state.db.session.commit()
    signals.send_committed(signals.subscription_created, StripeSubscription, instance=subscription)
    return data


def _create_params(
    subscription: StripeSubscription,
    customer: StripeCustomer,
    coupon: StripeCoupon | None,
    stripe_options: Mapping[str, Any],
) -> dict[str, Any]:
    """The parameters of ``POST /v1/subscriptions`` for *subscription*."""
    params: dict[str, Any] = {
        "customer": customer.stripe_customer_id,
        "items": [{"plan": subscription.plan.stripe_plan_id}],
        "metadata": {
            **{str(key): str(value) for key, value in (subscription.metadata_ or {}).items()},
            "subscriber_id": str(subscription.subscriber_id),
        },
    }
    if subscription.plan.trial_period_days:
        params["trial_from_plan"] = True
    if coupon is not None:
        params["discounts"] = [{"coupon": coupon.coupon_id}]
        params["expand"] = ["discounts"]
    host_metadata = {str(key): str(value) for key, value in (stripe_options.get("metadata") or {}).items()}
    params["metadata"] = {**host_metadata, **params["metadata"]}
    return {**params, **{key: value for key, value in stripe_options.items() if key != "metadata"}}


def _post_subscription(subscription: StripeSubscription) -> dict[str, Any]:
    """Send the stored request; if Stripe does not know ``discounts``, store and send the legacy form instead."""
    gateway = get_state().gateway
    params, idempotency_key = dict(subscription.stripe_request or {}), subscription.idempotency_key
    try:
        return gateway.request("post", "/v1/subscriptions", params, idempotency_key=idempotency_key)
    except errors.InvalidRequestError as exc:
        if "discounts" not in params or not _rejects_discounts(exc):
            raise
    # Stripe keeps no answer for a request refused in validation, so the same key is free for the retry.
    legacy = {key: value for key, value in params.items() if key not in ("discounts", "expand")}
    legacy["coupon"] = params["discounts"][0]["coupon"]
    expand = [path for path in params.get("expand") or () if not str(path).startswith("discounts")]
    if expand:
        legacy["expand"] = expand
    subscription.stripe_request = legacy
    get_state().db.session.commit()
    return gateway.request("post", "/v1/subscriptions", legacy, idempotency_key=idempotency_key)


def _rejects_discounts(exc: errors.InvalidRequestError) -> bool:
    """Whether Stripe refused the request because it does not know the ``discounts`` parameter.

    Stripe says so with the code ``parameter_unknown`` and ``param`` naming it; servers that mimic Stripe may
    give only a message ("Unexpected discounts", "Received unknown parameter: discounts").
    """
    if exc.code == "parameter_unknown":
        return bool(exc.param and exc.param.startswith("discounts"))
    message = exc.message.lower()
    return exc.code is None and "discounts" in message and ("unknown" in message or "unexpected" in message)


# -- refreshing ----------------------------------------------------------------------------------------------


def refresh_subscription(subscription: StripeSubscription) -> StripeSubscription:
    """Re-read *subscription* from Stripe, store it, and send the signals for what changed.  Calls Stripe.

    :raises flask_stripe_billing.errors.SubscriptionError: when it was never created at Stripe.
    """
    stripe_id = require_created(subscription)
    data = get_state().gateway.request("get", f"/v1/subscriptions/{stripe_id}")
    _store_and_signal(subscription, data)
    return subscription


def _store_and_signal(subscription: StripeSubscription, data: Mapping[str, Any]) -> None:
    """Store Stripe's subscription as read now, commit, then send the signals for what changed."""
    pending = apply_with_signals(subscription, data, sync.fetched_now())
    get_state().db.session.commit()
    for signal, kwargs in pending:
        signals.send_committed(signal, StripeSubscription, **kwargs)


# -- cancelling ----------------------------------------------------------------------------------------------


def cancels_at_period_end(subscription: StripeSubscription) -> bool:
    """Whether cancelling *subscription* now lets it run to the end of its period, by ``STRIPE_PRORATION_POLICY``.

    With the default policy a subscription on trial ends at once, any other at the end of the period already
    paid for; with proration every cancellation is immediate (and the unused part refunded).
    """
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
    _store_and_signal(subscription, data)
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


def change_plan(subscription: StripeSubscription, plan: StripeSubscriptionPlan) -> StripeSubscription:
    """Switch *subscription* to *plan* at once.  Calls Stripe.

    Not prorated (``proration_behavior=none``: the next invoice bills the new amount) unless
    ``STRIPE_PRORATION_POLICY`` is true (``always_invoice``: the difference for the rest of the period is
    invoiced now).  Sends :data:`~flask_stripe_billing.signals.subscription_updated` after the commit.

    :raises flask_stripe_billing.errors.SubscriptionError: for a subscription not created at Stripe or no
        longer running, a plan not created at Stripe, or the plan it already has.
    """
    stripe_id = require_created(subscription)
    _check_plan(plan)
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
            "items": [{"id": item_id, "plan": plan.stripe_plan_id}],
            "proration_behavior": "always_invoice" if policy else "none",
            # Choosing a plan means carrying on: a subscription set to end with its period no longer does.
            **({"cancel_at_period_end": False} if subscription.status == SubscriptionStatus.CANCELING else {}),
        },
        object_type="subscription",
        action="change_plan",
    )
    subscription.plan = plan  # Stripe's answer may name the plan in a shape we do not read; we know it
    _store_and_signal(subscription, data)
    return subscription


def _first_item_id(data: Mapping[str, Any]) -> str | None:
    items = list_data(data.get("items"))
    return expandable_id(items[0]) if items else None


# -- helpers -------------------------------------------------------------------------------------------------


def _check_plan(plan: StripeSubscriptionPlan | None) -> None:
    if plan is None or not plan.is_created_at_stripe or not plan.stripe_plan_id:
        name = getattr(plan, "name", None)
        raise errors.SubscriptionError(f"Plan {name!r} is not created at Stripe: call plan.create_at_stripe() first.")

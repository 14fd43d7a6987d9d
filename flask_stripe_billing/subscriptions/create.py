"""Creating subscriptions: one request per subscription, with its key stored first, and never a second one for a
plan whose first payment still waits.

:func:`subscribe` is re-exported by :mod:`flask_stripe_billing.subscriptions.verbs`, with the other verbs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .. import errors, signals
from ..core.notify import send_committed
from ..core.state import get_state
from ..coupons.lookup import resolve_coupon
from ..models.base import subscriber_key
from ..models.coupon import StripeCoupon
from ..models.customer import StripeCustomer
from ..models.plan import StripeSubscriptionPlan
from ..models.subscription import StripeSubscription, SubscriptionStatus
from ..plans.lookup import resolve_plan
from .from_stripe import apply_stripe_subscription


def subscribe(
    subscriber: Any,
    plan: StripeSubscriptionPlan | str,
    coupon: StripeCoupon | str | None = None,
    **stripe_options: Any,
) -> StripeSubscription:
    """Subscribe *subscriber* to *plan* (a row, a Price id or a lookup key: see
    :func:`~flask_stripe_billing.plans.resolve_plan`) with *coupon* (a row or a coupon id): store it and create
    it at Stripe.

    Calls Stripe.  ``stripe_options`` go to ``POST /v1/subscriptions`` as they are (``trial_end``, ...), overriding
    what is built here, but ``metadata`` is merged (``subscriber_id`` kept).  If Stripe refuses, the new row is
    deleted; if the outcome is unknown (:class:`~flask_stripe_billing.errors.OutcomeUnknownError`) it is kept, and
    calling this again for the same plan (or
    :meth:`~flask_stripe_billing.models.StripeSubscription.create_at_stripe`) replays the same request with the
    same key, so Stripe answers with what it did instead of creating a second subscription.

    A subscription whose first payment still waits (status ``incomplete``: the bank asked for 3-D Secure, see
    :mod:`~flask_stripe_billing.subscriptions.payment`) is returned as it is for the same plan, without calling
    Stripe, so subscribing twice never makes a second one; for another plan it is refused.

    :raises flask_stripe_billing.errors.NoCustomerError: when the subscriber has no active customer (no card).
    :raises flask_stripe_billing.errors.PlanError: for a plan that cannot be found or is no longer offered.
    :raises flask_stripe_billing.errors.SubscriptionError: for a plan not created at Stripe, an unknown or
        deleted coupon, or while a subscription to another plan waits for its first payment.
    """
    plan = resolve_plan(plan)
    check_plan(plan)
    waiting = awaiting_first_payment(subscriber)
    if waiting is not None:
        if waiting.plan_id == plan.id:
            return waiting
        raise errors.SubscriptionError(
            f"Your subscription to {waiting.plan.name} is waiting for its first payment: "
            "confirm it or cancel it before choosing another plan."
        )
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


def awaiting_first_payment(subscriber: Any) -> StripeSubscription | None:
    """The subscriber's newest subscription created at Stripe whose first payment has not gone through (status
    ``incomplete``), if any.  Reads only the database."""
    query = (
        sa.select(StripeSubscription)
        .where(
            StripeSubscription.subscriber_id == subscriber_key(subscriber),
            StripeSubscription.is_created_at_stripe.is_(True),
            StripeSubscription.status == str(SubscriptionStatus.INCOMPLETE),
        )
        .order_by(StripeSubscription.id.desc())
    )
    return get_state().db.session.scalars(query.limit(1)).first()


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
    subscriber's newest active one.  A plan with ``trial_period_days`` starts with that trial (sent as the
    subscription's ``trial_period_days``, unless *stripe_options* give ``trial_end`` or ``trial_period_days``).
    A coupon is sent as ``discounts=[{"coupon": id}]`` (the current API); if Stripe answers that it does not know
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
    check_plan(subscription.plan)
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
    send_committed(signals.subscription_created, StripeSubscription, instance=subscription)
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
        "items": [{"price": subscription.plan.stripe_price_id}],
        "metadata": {
            **{str(key): str(value) for key, value in (subscription.metadata_ or {}).items()},
            "subscriber_id": str(subscription.subscriber_id),
        },
    }
    if subscription.plan.trial_period_days and not {"trial_end", "trial_period_days"} & set(stripe_options):
        params["trial_period_days"] = subscription.plan.trial_period_days
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


def check_plan(plan: StripeSubscriptionPlan | None) -> None:
    if plan is None or not plan.is_created_at_stripe or not plan.stripe_plan_id:
        name = getattr(plan, "name", None)
        raise errors.SubscriptionError(f"Plan {name!r} is not created at Stripe: call plan.create_at_stripe() first.")

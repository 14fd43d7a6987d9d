"""Plans (pricing), subscribing with an optional coupon, and cancelling with a clear statement of what follows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ... import checkout, coupons, errors, subscriptions
from ...core.state import get_state
from ...models.plan import StripeSubscriptionPlan
from ...models.subscription import LIVE_STATUSES, StripeSubscription, SubscriptionStatus
from ...subscriptions.payment import first_payment
from ..owner import current_customer, owned_or_404
from .common import is_local_path, page_view, render, row_id_from_form, safe_next
from .formatting import date

#: Shown when Stripe's answer to a subscription change was lost.
OUTCOME_UNKNOWN_MESSAGE = (
    "We could not confirm the change with the payment service. Please do not try again yet: "
    "your account will show the result shortly."
)


def purchasable_plans() -> list[StripeSubscriptionPlan]:
    """Active plans that exist at Stripe, cheapest first."""
    query = (
        sa.select(StripeSubscriptionPlan)
        .where(StripeSubscriptionPlan.is_active.is_(True), StripeSubscriptionPlan.is_created_at_stripe.is_(True))
        .order_by(StripeSubscriptionPlan.amount, StripeSubscriptionPlan.id)
    )
    return list(get_state().db.session.scalars(query))


def render_plans(subscriber: Any, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render(
        "plans.html",
        plans=purchasable_plans(),
        current=subscriptions.active_subscription(subscriber),
        customer=current_customer(subscriber),
        error=error,
        coupon_code=request.form.get("coupon", ""),
        # The coupon lookup of the JSON API, registered on the same blueprint.
        coupon_check_url=url_for(".api_coupon", coupon_id="__CODE__"),
    )
    return page, status


def back_to_plans() -> str:
    """The plans page, keeping the ``next`` the subscriber came with (for after a card is added)."""
    target = request.values.get("next", "")
    return url_for(".plans", next=target) if is_local_path(target) else url_for(".plans")


@page_view
def plans(subscriber: Any) -> tuple[str, int]:
    """The plans, each with a subscribe button and an optional coupon code."""
    return render_plans(subscriber)


@page_view
def subscribe(subscriber: Any) -> Response | tuple[str, int]:
    """``POST plan_id[, coupon]``: subscribe the subscriber (or move their subscription to that plan)."""
    plan_id = row_id_from_form("plan_id")
    plan = get_state().db.session.get(StripeSubscriptionPlan, plan_id) if plan_id is not None else None
    if plan is None or not plan.is_active or not plan.is_created_at_stripe:
        return render_plans(subscriber, error="Choose one of the plans below.", status=400)
    code = request.form.get("coupon", "").strip()
    coupon = None
    if code:
        coupon = coupons.get_live_coupon(code)
        if coupon is None or not coupon.valid:
            return render_plans(subscriber, error=f"The coupon code {code!r} is not valid.", status=400)
    if get_state().config.checkout and subscriptions.active_subscription(subscriber) is None:
        return subscribe_through_checkout(subscriber, plan, coupon)
    if current_customer(subscriber) is None:
        flash("Add a card first: your subscription will be paid with it.", "info")
        return redirect(url_for(".card", next=back_to_plans()))

    current = subscriptions.active_subscription(subscriber)
    try:
        if current is not None and current.plan_id == plan.id:
            flash(f"You are already subscribed to {plan.name}.", "info")
        elif current is not None:
            current.change_plan(plan)
            flash(f"Your plan is now {plan.name}.", "success")
        else:
            created = subscriptions.subscribe(subscriber, plan, coupon=coupon)
            if created.status == SubscriptionStatus.INCOMPLETE:
                return redirect(url_for(".confirm_subscription", subscription_id=created.id))
            flash(subscribed_message(created), "success" if created.is_live else "error")
    except errors.NoCustomerError:
        return redirect(url_for(".card", next=back_to_plans()))
    except errors.OutcomeUnknownError:
        # It may have gone through: say so rather than invite a second attempt.
        flash(OUTCOME_UNKNOWN_MESSAGE, "error")
        return redirect(url_for(".account"))
    except errors.StripeRequestError as exc:
        return render_plans(subscriber, error=exc.user_message, status=400)
    except errors.SubscriptionError as exc:
        return render_plans(subscriber, error=str(exc), status=400)
    return redirect(safe_next(".account"))


def subscribe_through_checkout(
    subscriber: Any, plan: StripeSubscriptionPlan, coupon: Any
) -> Response | tuple[str, int]:
    """``STRIPE_CHECKOUT``: send the subscriber to a Checkout Session for *plan* (303); its return page stores
    the subscription and leads to ``next`` (a local path) or the account page."""
    target = request.values.get("next", "")
    try:
        session = checkout.create_checkout_session(
            subscriber,
            plan,
            coupon=coupon,
            success_url=checkout.default_success_url(target if is_local_path(target) else None),
            cancel_url=url_for(".plans", _external=True),
        )
    except errors.OutcomeUnknownError:
        flash(OUTCOME_UNKNOWN_MESSAGE, "error")
        return redirect(url_for(".account"))
    except errors.StripeRequestError as exc:
        return render_plans(subscriber, error=exc.user_message, status=400)
    except errors.CheckoutError as exc:
        return render_plans(subscriber, error=str(exc), status=400)
    if not session.url:
        return render_plans(subscriber, error="The checkout page could not be opened; please try again.", status=502)
    return redirect(session.url, code=303)


def subscribed_message(subscription: StripeSubscription) -> str:
    """What to tell the subscriber right after subscribing, by the subscription's status."""
    name = subscription.plan.name
    if subscription.status == SubscriptionStatus.TRIALING:
        ends = date(subscription.trial_end)
        return f"Your trial of {name} has started" + (f"; it ends on {ends}." if ends else ".")
    if subscription.is_live:
        return f"Thank you: you are subscribed to {name}."
    return f"Your subscription to {name} could not be paid for yet; please check your card."


@page_view
def confirm_subscription(subscriber: Any, subscription_id: int) -> Response | str:
    """``GET``: confirm the first payment of an incomplete subscription (3-D Secure); ``POST``: re-read it.

    As for a charge, the browser's word is never taken: after ``stripe.confirmCardPayment`` the page posts here
    and the subscription is read again from Stripe.
    """
    subscription = owned_or_404(StripeSubscription, subscription_id, subscriber)
    account = url_for(".account")
    if subscription.status != SubscriptionStatus.INCOMPLETE:
        return redirect(account)
    name = subscription.plan.name
    try:
        if request.method == "GET":
            payment = first_payment(subscription)
            if payment is not None:
                return render(
                    "confirm.html",
                    payment=payment,
                    client_secret=payment.client_secret,
                    description=f"{name}, first payment",
                )
        else:
            subscriptions.refresh_subscription(subscription)
    except errors.StripeRequestError as exc:
        flash(exc.user_message, "error")
        return redirect(account)
    if subscription.is_live:
        flash(subscribed_message(subscription), "success")
    elif subscription.status == SubscriptionStatus.INCOMPLETE and request.method == "POST":
        flash(
            f"Your bank has not confirmed the payment, so you are not subscribed to {name} yet. "
            "You can confirm it again, or cancel it.",
            "info",
        )
    elif subscription.status == SubscriptionStatus.INCOMPLETE:
        flash(subscribed_message(subscription), "error")  # nothing to confirm: the card was declined
    else:
        flash(
            f"Your bank did not confirm the payment, so you are not subscribed to {name}. "
            "Nothing was taken; you can subscribe again with this card or another one.",
            "error",
        )
    return redirect(account)


def cancellation_effect(subscription: StripeSubscription) -> tuple[bool, dt.datetime | None]:
    """``(immediate, access_ends_at)`` of cancelling now, by
    :func:`~flask_stripe_billing.subscriptions.verbs.cancels_at_period_end` (the rule the cancellation follows)."""
    immediate = not subscriptions.cancels_at_period_end(subscription)
    return immediate, None if immediate else subscription.current_period_end


@page_view
def cancel_subscription(subscriber: Any, subscription_id: int) -> Response | str:
    """``GET``: a confirmation stating when access ends; ``POST``: cancel."""
    subscription = owned_or_404(StripeSubscription, subscription_id, subscriber)
    cancelable = LIVE_STATUSES - {SubscriptionStatus.CANCELING} | {SubscriptionStatus.INCOMPLETE}
    if subscription.status not in cancelable:
        flash("This subscription is already canceled.", "info")
        return redirect(url_for(".account"))
    immediate, ends_at = cancellation_effect(subscription)
    if request.method == "GET":
        unpaid = subscription.status == SubscriptionStatus.INCOMPLETE
        return render("cancel.html", subscription=subscription, immediate=immediate, ends_at=ends_at, unpaid=unpaid)
    try:
        subscription.cancel(at_period_end=None)
    except errors.StripeRequestError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for(".account"))
    if immediate or ends_at is None:
        flash(f"Your subscription to {subscription.plan.name} is canceled.", "success")
    else:
        flash(
            f"Your subscription to {subscription.plan.name} is canceled; you keep access until {date(ends_at)}.",
            "success",
        )
    return redirect(url_for(".account"))

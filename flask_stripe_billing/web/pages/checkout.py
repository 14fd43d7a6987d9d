"""The return page of Stripe Checkout, and the way to the Customer Portal.

``GET /checkout/return?session_id=cs_...`` is where a Checkout Session sends the customer once done: the session
is read from Stripe with what it made, checked to be the subscriber's own (else 404, as for any row of someone
else's), stored at once (:func:`~flask_stripe_billing.checkout.complete.complete_session`, the function the
webhook handlers use), and the customer is sent to the account page (or a local ``next``) with a message.

``POST /portal`` (with the CSRF token) sends the customer to a new Customer Portal session (303).
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ... import errors
from ...checkout import CheckoutResult, billing_portal_url, complete_session, read_session, session_customer
from ...core.state import get_state
from ...models.base import subscriber_key
from .common import page_view, render, safe_next
from .subscriptions import subscribed_message

#: What a Checkout Session id looks like.
SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,250}")

#: Shown when the session could not be read: the webhook will store the result.
NOT_CONFIRMED_MESSAGE = (
    "We could not confirm your checkout with the payment service yet. Please do not pay again: "
    "your account will show the result shortly."
)


@page_view
def checkout_return(subscriber: Any) -> Response | tuple[str, int]:
    """Store what the subscriber's Checkout Session made, then go to the account page (or ``next``)."""
    session_id = request.args.get("session_id", "")
    if not SESSION_ID.fullmatch(session_id):
        return _problem("This checkout link is not valid.", 400)
    try:
        data = read_session(session_id)
    except errors.InvalidRequestError as exc:
        if exc.is_missing:
            return _problem("We know of no such checkout.", 404)
        flash(NOT_CONFIRMED_MESSAGE, "error")
        return redirect(url_for(".account"))
    except errors.StripeRequestError:
        flash(NOT_CONFIRMED_MESSAGE, "error")
        return redirect(url_for(".account"))
    customer = session_customer(data)
    key = str(subscriber_key(subscriber))
    reference = data.get("client_reference_id")
    if customer is None or str(customer.subscriber_id) != key or reference not in (None, "", key):
        return _problem("We know of no such checkout.", 404)  # someone else's: the same answer as none at all
    try:
        result = complete_session(data)
    except errors.StripeRequestError:
        flash(NOT_CONFIRMED_MESSAGE, "error")
        return redirect(url_for(".account"))
    category, message = outcome_message(result)
    flash(message, category)
    return redirect(safe_next(".account"))


def outcome_message(result: CheckoutResult) -> tuple[str, str]:
    """``(category, message)`` telling the customer what their checkout did."""
    if result.status == "expired":
        return "info", "This checkout has expired: nothing was taken."
    if not result.is_complete:
        return "info", "The checkout was not completed: nothing was taken."
    if not result.is_paid:
        return "info", "Thank you: your payment is on its way. Your account will show it once it has gone through."
    if result.subscription is not None:
        subscription = result.subscription
        return ("success" if subscription.is_live else "error"), subscribed_message(subscription)
    if result.mode == "setup":
        return "success", "Your card is saved."
    return "success", "Thank you: your payment went through."


@page_view
def portal(subscriber: Any) -> Response:
    """``POST``: a new Customer Portal session for the subscriber (303 to Stripe's page)."""
    if not get_state().config.portal:
        return redirect(url_for(".account"))
    try:
        url = billing_portal_url(subscriber, return_url=url_for(".account", _external=True))
    except errors.NoCustomerError:
        flash("There is nothing to manage yet: subscribe to a plan or add a card first.", "info")
        return redirect(url_for(".account"))
    except errors.StripeRequestError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for(".account"))
    return redirect(url, code=303)


def _problem(message: str, status: int) -> tuple[str, int]:
    return render("checkout_return.html", problem=message), status

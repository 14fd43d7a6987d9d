"""Add or replace the subscriber's card.

The page confirms a SetupIntent in the browser (``stripe.confirmCardSetup``, 3-D Secure included) and posts
the resulting payment method here; with ``?flow=token`` it posts a Stripe.js token instead.  Either way the card
is saved on the subscriber's customer (created on the first card) and becomes the default.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from ... import customers, errors
from ..owner import current_customer
from .common import page_view, render, safe_next

#: The two ways the page can hand a card over: a confirmed SetupIntent's payment method, or a token.
CARD_FLOWS = ("setup_intent", "token")


@page_view
def card(subscriber: Any) -> Response | tuple[str, int] | str:
    """``GET``: the card form; ``POST``: save the card it produced (``payment_method`` or ``token``)."""
    customer = current_customer(subscriber)
    flow = request.args.get("flow", CARD_FLOWS[0])
    if flow not in CARD_FLOWS:
        flow = CARD_FLOWS[0]
    if request.method == "GET":
        return render("card.html", customer=customer, flow=flow, card_error=None)

    card_id = submitted_card()
    if card_id is None:
        error, status = "Enter your card details, then save the card.", 400
    else:
        try:
            if customer is None:
                customer = customers.create_customer(subscriber, card_id)
            else:
                customer = customers.add_new_source(customer, card_id)
        except errors.StripeRequestError as exc:
            # Card errors carry Stripe's customer-facing text; anything else gets the generic, safe wording.
            error = exc.user_message
            status = 502 if isinstance(exc, errors.OutcomeUnknownError) else 400
        else:
            last4 = (customer.default_source_data or {}).get("last4")
            flash(f"Your card ending in {last4} is saved." if last4 else "Your card is saved.", "success")
            return redirect(safe_next())
    return render("card.html", customer=customer, flow=flow, card_error=error), status


def submitted_card() -> str | None:
    """The payment method (``pm_...``) or token (``tok_...``) the form carries; ``None`` if neither is valid."""
    method = request.form.get("payment_method", "")
    if method.startswith("pm_"):
        return method
    token = request.form.get("token", "")
    if token.startswith("tok_"):
        return token
    return None

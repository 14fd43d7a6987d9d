"""Pay a pending charge, and confirm a payment that needs authentication (3-D Secure).

The pay page is also the charge's status page: after paying, confirming or failing, the customer lands on it.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ... import charges, errors
from ...models.charge import ChargeStatus, StripeCharge
from ..owner import current_customer, owned_or_404
from .common import page_view, render, safe_next

#: Charges the customer may (try to) pay from the page: not sent yet, or declined before.
PAYABLE_STATUSES = frozenset({ChargeStatus.PENDING, ChargeStatus.FAILED})

#: Shown when Stripe's answer was lost: the payment may have gone through, so the customer must not pay again.
OUTCOME_UNKNOWN_MESSAGE = (
    "We could not confirm the payment with the payment service. Please do not pay again: "
    "this page will show the result as soon as it is known."
)


@page_view
def pay_charge(subscriber: Any, charge_id: int) -> Response | tuple[str, int] | str:
    """``GET``: the charge (amount, description, the card it will be paid with); ``POST``: pay it."""
    charge = owned_or_404(StripeCharge, charge_id, subscriber)
    customer = current_customer(subscriber)
    if request.method == "GET":
        return render("pay.html", charge=charge, customer=customer, card_error=None)

    here = url_for(".pay_charge", charge_id=charge.id)
    if charge.status == ChargeStatus.REQUIRES_ACTION:
        return redirect(url_for(".confirm_payment", charge_id=charge.id))
    if charge.status not in PAYABLE_STATUSES:
        flash("This charge cannot be paid now.", "info")
        return redirect(here)
    if customer is None:
        return redirect(url_for(".card", next=here))

    try:
        charges.charge(charge)
    except errors.PaymentActionRequired:
        return redirect(url_for(".confirm_payment", charge_id=charge.id))
    except errors.NoCustomerError:
        return redirect(url_for(".card", next=here))
    except errors.ChargeStateError as exc:
        flash(str(exc), "error")
        return redirect(here)
    except errors.OutcomeUnknownError:
        return render("pay.html", charge=charge, customer=customer, card_error=OUTCOME_UNKNOWN_MESSAGE), 502
    except errors.StripeRequestError as exc:
        return render("pay.html", charge=charge, customer=customer, card_error=exc.user_message), 400
    flash("Thank you: your payment went through.", "success")
    return redirect(safe_next(".pay_charge", charge_id=charge.id))


@page_view
def confirm_payment(subscriber: Any, charge_id: int) -> Response | str:
    """``GET``: authenticate the payment with ``stripe.confirmCardPayment``; ``POST``: re-read it from Stripe.

    The browser's word is never taken for the outcome: after the authentication the page posts here, and the
    charge is brought up to date from the PaymentIntent at Stripe.
    """
    charge = owned_or_404(StripeCharge, charge_id, subscriber)
    here = url_for(".pay_charge", charge_id=charge.id)
    if request.method == "GET":
        if charge.status != ChargeStatus.REQUIRES_ACTION or not charge.payment_intent_client_secret:
            return redirect(here)
        return render(
            "confirm.html",
            payment=charge,
            client_secret=charge.payment_intent_client_secret,
            description=charge.description,
        )

    if not charge.stripe_payment_intent_id:
        return redirect(here)  # never sent to Stripe: there is nothing to re-read

    try:
        charge = charges.refresh_charge(charge)
    except errors.StripeRequestError as exc:
        flash(exc.user_message, "error")
        return redirect(here)
    if charge.status == ChargeStatus.SUCCEEDED:
        flash("Thank you: your payment is authenticated and went through.", "success")
    elif charge.status == ChargeStatus.REQUIRES_ACTION:
        flash("The payment still needs you to authenticate it.", "info")
        return redirect(url_for(".confirm_payment", charge_id=charge.id))
    else:
        # The reason, when Stripe gave one, is on the charge's page ("The last attempt failed: ...").
        flash("The payment was not authenticated, so it was not taken.", "error")
    return redirect(here)

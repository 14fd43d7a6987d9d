"""Pay a pending charge, and confirm a payment that needs authentication (3-D Secure).

The pay page is also the charge's status page: after paying, confirming or failing, the customer lands on it.
With ``STRIPE_CHECKOUT`` it opens a Checkout Session for the charge, claimed for it meanwhile (see
:mod:`flask_stripe_billing.charges.checkout_claims`); Checkout's back link returns to it with
``?checkout=canceled``, which expires the session and gives the charge back.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ... import charges, checkout, errors
from ...charges import checkout_claims
from ...core.state import get_state
from ...models.charge import ChargeStatus, StripeCharge
from ..owner import current_customer, owned_or_404
from .checkout import outcome_message
from .common import page_view, render, safe_next

#: Charges the customer may (try to) pay from the page: not sent yet, or declined before.
PAYABLE_STATUSES = frozenset({ChargeStatus.PENDING, ChargeStatus.FAILED})

#: ``checkout`` in the query of the pay page Checkout's back link leads to.
CANCELED = "canceled"

#: Shown when the answer to opening a Checkout Session was lost.
CHECKOUT_UNKNOWN_MESSAGE = "We could not open the checkout page. Nothing was taken: please try again in a few minutes."

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
    here = url_for(".pay_charge", charge_id=charge.id)
    if request.method == "GET":
        if request.args.get("checkout") == CANCELED:
            cancel_checkout(charge)
            return redirect(here)
        awaiting = checkout_claims.awaits_checkout(charge)
        return render("pay.html", charge=charge, customer=customer, card_error=None, awaits_checkout=awaiting)

    if charge.status == ChargeStatus.REQUIRES_ACTION:
        return redirect(url_for(".confirm_payment", charge_id=charge.id))
    checkout_enabled = get_state().config.checkout
    if checkout_enabled and (charge.status in PAYABLE_STATUSES or checkout_claims.is_checkout_claim(charge)):
        return pay_through_checkout(subscriber, charge)
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


def pay_through_checkout(subscriber: Any, charge: StripeCharge) -> Response | tuple[str, int]:
    """``STRIPE_CHECKOUT``: send the subscriber to a Checkout Session paying *charge* (303).

    The charge is claimed for the session first
    (:func:`~flask_stripe_billing.charges.checkout_claims.claim_for_checkout`), so that ``flask stripe charge``
    leaves it alone while the customer is on the page; a second click reuses the open session.  Its PaymentIntent
    carries the charge's id, so that the return page and the webhook store the payment on this charge
    (:mod:`flask_stripe_billing.checkout.complete`).
    """
    if checkout_claims.awaits_checkout(charge):
        return _resume_checkout(subscriber, charge)
    try:
        customer = checkout.checkout_customer(subscriber)
    except errors.StripeRequestError as exc:
        return _pay_page_error(subscriber, charge, exc.user_message)
    if charge.customer_id != customer.id:
        charge.customer_id = customer.id  # the payment comes from this customer: it must match on return
        get_state().db.session.commit()
    claim = checkout_claims.claim_for_checkout(charge)
    if claim is None:
        return _claimed_meanwhile(subscriber, charge)
    try:
        price, options = _checkout_for(charge, claim)
        session = checkout.create_checkout_session(subscriber, price, **options)
    except errors.OutcomeUnknownError:
        # The session may exist, but nobody has its address: the claim is kept, and taken over by a click made
        # once the opening window has passed.
        return _pay_page_error(subscriber, charge, CHECKOUT_UNKNOWN_MESSAGE, 502)
    except (errors.StripeRequestError, errors.CheckoutError) as exc:
        checkout_claims.give_up_opening(charge, claim)
        message = exc.user_message if isinstance(exc, errors.StripeRequestError) else str(exc)
        return _pay_page_error(subscriber, charge, message)
    if not checkout_claims.store_session_id(charge, claim, session.id):
        return _claimed_meanwhile(subscriber, charge)  # taken over meanwhile: the session stored is the one
    if not session.url:
        flash("The checkout page could not be opened; please try again.", "error")
        return redirect(url_for(".pay_charge", charge_id=charge.id))
    return redirect(session.url, code=303)


def _checkout_for(charge: StripeCharge, claim: checkout_claims.CheckoutClaim) -> tuple[dict[str, Any], dict[str, Any]]:
    """The price and the options of the Checkout Session paying *charge*."""
    here = url_for(".pay_charge", charge_id=charge.id)
    intent: dict[str, Any] = {"metadata": {"charge_id": str(charge.id)}}
    if charge.description:
        intent["description"] = charge.description
    if charge.statement_descriptor:
        intent["statement_descriptor_suffix"] = charge.statement_descriptor
    price = {
        "currency": charge.currency.lower(),
        "unit_amount": charge.amount,
        "product_data": {"name": charge.description or "Payment"},
    }
    options = {
        "mode": "payment",
        "success_url": checkout.default_success_url(here),
        "cancel_url": url_for(".pay_charge", charge_id=charge.id, checkout=CANCELED, _external=True),
        "expires_at": claim.expires_at,
        "metadata": {"charge_id": str(charge.id)},
        "payment_intent_data": intent,
    }
    return price, options


def _claimed_meanwhile(subscriber: Any, charge: StripeCharge) -> Response | tuple[str, int]:
    """Another click (or ``flask stripe charge``) took the charge first: follow it."""
    if checkout_claims.awaits_checkout(charge):
        return _resume_checkout(subscriber, charge, again=False)
    if checkout_claims.is_opening(charge):
        flash("Your checkout page is being opened: please try again in a moment.", "info")
    else:
        flash("This charge cannot be paid now.", "info")
    return redirect(url_for(".pay_charge", charge_id=charge.id))


def _resume_checkout(subscriber: Any, charge: StripeCharge, *, again: bool = True) -> Response | tuple[str, int]:
    """A charge with a session already: back to its page while it is open; its outcome once complete; a new
    session (if *again*) once it has expired."""
    session_id = charge.stripe_checkout_session_id
    assert session_id is not None
    try:
        data = checkout.read_session(session_id)
        if data.get("status") == "open" and isinstance(data.get("url"), str):
            return redirect(str(data["url"]), code=303)
        if data.get("status") == "open":
            data = checkout_claims.close_session(session_id)  # a page we cannot send the customer to
        if data.get("status") == "complete":
            return _show_outcome(checkout.complete_session(data), charge)
    except errors.StripeRequestError as exc:
        return _pay_page_error(subscriber, charge, exc.user_message)
    if data.get("status") == "expired" and _release(charge, session_id):
        if again:
            return pay_through_checkout(subscriber, charge)
        flash("The checkout page had expired: nothing was taken. Please pay again.", "info")
    else:
        flash("This charge cannot be paid now.", "info")
    return redirect(url_for(".pay_charge", charge_id=charge.id))


def cancel_checkout(charge: StripeCharge) -> None:
    """The customer left the Checkout page by its back link (``cancel_url``): expire the session, so that it
    cannot be paid any more, and give the charge back; or store its outcome if it was paid after all."""
    session_id = charge.stripe_checkout_session_id
    if not checkout_claims.awaits_checkout(charge) or session_id is None:
        return
    try:
        data = checkout_claims.close_session(session_id)
        if data.get("status") == "complete":
            _flash_outcome(checkout.complete_session(data))
            return
    except errors.StripeRequestError as exc:
        flash(exc.user_message, "error")
        return
    if data.get("status") == "expired" and _release(charge, session_id):
        flash("Checkout canceled: nothing was taken.", "info")


def _release(charge: StripeCharge, session_id: str) -> bool:
    released = checkout_claims.release_checkout(charge, session_id)
    get_state().db.session.commit()
    return released


def _show_outcome(result: checkout.CheckoutResult, charge: StripeCharge) -> Response:
    _flash_outcome(result)
    return redirect(url_for(".pay_charge", charge_id=charge.id))


def _flash_outcome(result: checkout.CheckoutResult) -> None:
    category, message = outcome_message(result)
    flash(message, category)


def _pay_page_error(subscriber: Any, charge: StripeCharge, message: str, status: int = 400) -> tuple[str, int]:
    return render("pay.html", charge=charge, customer=current_customer(subscriber), card_error=message), status


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

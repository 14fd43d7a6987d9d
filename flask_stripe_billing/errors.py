"""The extension's own exceptions.

Stripe's exceptions never leave the gateway (:mod:`flask_stripe_billing.core.client`): they are translated into the
classes below, which keep what an application needs — Stripe's error code, the card's decline code, the
request id to quote to Stripe support, the HTTP status — and a message that is safe to show a customer.
"""

from __future__ import annotations

from typing import Any


class BillingError(Exception):
    """Base class of every exception raised by flask-stripe-billing."""


class ConfigurationError(BillingError):
    """A configuration key is missing or malformed.  Raised at start-up, naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        #: What is wrong with the key, and how to fix it (the message without the key's name).
        self.problem = problem
        super().__init__(f"{key} {problem}")


class ConfigurationWarning(UserWarning):
    """A configuration value is legal but unlikely to be what was meant.  Issued at start-up, naming the key."""


class StripeRequestError(BillingError):
    """Stripe answered with an error, or could not be reached.

    :ivar code: Stripe's error code (``card_declined``, ``resource_missing``, ...) or ``None``.
    :ivar decline_code: the card issuer's decline code (``insufficient_funds``, ...) or ``None``.
    :ivar param: the request parameter Stripe blamed, if any.
    :ivar request_id: Stripe's request id (``req_...``), to quote to Stripe support.
    :ivar http_status: the HTTP status of Stripe's answer, ``None`` when there was no answer.
    :ivar user_message: a message that is safe to show the customer.
    """

    #: The message shown to a customer when Stripe gave none of its own.
    default_user_message = "The payment service could not complete the request. Please try again later."

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        user_message: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code
        self.param = param
        self.request_id = request_id
        self.http_status = http_status
        self.user_message = user_message or self.default_user_message
        #: Stripe's ``error`` object as received (never contains a secret key).
        self.raw = raw or {}

    def __str__(self) -> str:
        details = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("code", self.code),
                ("decline_code", self.decline_code),
                ("param", self.param),
                ("request_id", self.request_id),
                ("http_status", self.http_status),
            )
            if value is not None
        )
        return f"{self.message} ({details})" if details else self.message


class CardError(StripeRequestError):
    """The card was declined or is invalid.  ``user_message`` is Stripe's customer-facing text."""

    default_user_message = "Your card was declined."


class InvalidRequestError(StripeRequestError):
    """Stripe rejected the request's parameters, or the object does not exist (:attr:`is_missing`)."""

    @property
    def is_missing(self) -> bool:
        """Whether Stripe has no such object (``resource_missing``, or a 404)."""
        return self.code == "resource_missing" or self.http_status == 404


class IdempotencyError(StripeRequestError):
    """The same idempotency key was used with different parameters.  A programming error: never retried."""


class AuthenticationError(StripeRequestError):
    """Stripe refused the secret key (check ``STRIPE_API_KEY``) or the key lacks a permission."""


class RateLimitError(StripeRequestError):
    """Stripe is rate limiting this account (HTTP 429).  Back off and try again."""


class OutcomeUnknownError(StripeRequestError):
    """Stripe may or may not have carried out the request: a 5xx answer, a timeout, or a connection lost.

    Never treat this as a failure.  Repeat the request with the same idempotency key to learn the outcome.
    """


class StripeConnectionError(OutcomeUnknownError):
    """Stripe could not be reached at all (DNS, refused connection, TLS) or the connection was lost."""


class NoCustomerError(BillingError):
    """The subscriber has no active Stripe customer, so there is nothing to charge or subscribe."""


class ChargeStateError(BillingError, ValueError):
    """A charge or refund was asked for that cannot be done: a bad amount, currency or statement descriptor, a
    charge already charged (or being charged), a refund of more than remains.  Raised before any Stripe request,
    with nothing changed.
    """


class PaymentActionRequired(BillingError):
    """The card needs the customer to authenticate the payment (3-D Secure, required by SCA).

    The charge is recorded with status ``requires_action``; send the customer to :attr:`confirm_url` (or a page
    of your own that calls ``stripe.confirmCardPayment`` with :attr:`client_secret`).

    :ivar charge_id: the ``StripeCharge`` row's id.
    :ivar payment_intent_id: the PaymentIntent awaiting confirmation (``pi_...``).
    :ivar client_secret: the PaymentIntent's client secret, for Stripe.js on the confirmation page.
    :ivar confirm_url: the extension's confirmation page for this charge, or ``None`` when it cannot be built.
    """

    def __init__(
        self,
        message: str,
        *,
        charge_id: int | None,
        payment_intent_id: str | None,
        client_secret: str | None,
        confirm_url: str | None,
    ) -> None:
        super().__init__(message)
        self.charge_id = charge_id
        self.payment_intent_id = payment_intent_id
        self.client_secret = client_secret
        self.confirm_url = confirm_url


class PlanError(BillingError, ValueError):
    """A plan cannot be created, found or subscribed to as asked.

    Most are raised before any Stripe request, with nothing changed: a missing name, an amount, currency,
    interval, interval count, trial or lookup key Stripe would refuse
    (:func:`~flask_stripe_billing.plans.validate_plan`), a plan already created at Stripe, ``None`` or another
    type where a plan, a Price id or a lookup key is expected, or a plan no longer offered (inactive).

    Some are raised only once Stripe has answered:

    * :func:`~flask_stripe_billing.plans.resolve_plan`, behind every verb that takes a plan, asks Stripe for a
      Price id or lookup key it does not find here, and raises when Stripe has no such price, or its price cannot
      be a plan (one-time, tiered) or is archived; nothing is stored;
    * ``create_at_stripe()`` (:func:`~flask_stripe_billing.plans.create_plan`) raises when Stripe has a price
      billing another amount, currency or interval under the plan's lookup key or the ``stripe_price_id`` it was
      given, or no price under that id; nothing is created at Stripe;
    * :func:`~flask_stripe_billing.plans.plan_from_stripe_price` raises for a Stripe price that cannot be a plan,
      or is malformed; nothing is changed.
    """


class SubscriptionError(BillingError, ValueError):
    """A subscription verb cannot be carried out: a plan or subscription not created at Stripe, a subscription
    created twice, a plan change to the same plan.  Raised before any Stripe request, with nothing changed.
    """


class CouponError(BillingError, ValueError):
    """A coupon is malformed (both or neither of ``percent_off`` and ``amount_off``, ``amount_off`` without a
    currency, a repeating duration without months, ...), its id is taken, or a change touches a field Stripe
    does not let one change after creation (only ``name`` and ``metadata`` can change).  Raised before any
    Stripe request, with nothing changed.
    """


class CheckoutError(BillingError, ValueError):
    """A Checkout Session or a Customer Portal session cannot be made as asked: an unknown mode, prices that do
    not fit the mode (none for a subscription, any for a setup), a bad quantity or trial, a coupon together with
    promotion codes, a return address that is not an absolute ``http(s)`` URL.  Raised before any Stripe
    request, with nothing changed.
    """


class CustomerError(BillingError, ValueError):
    """A customer verb cannot be carried out: a customer not created at Stripe, a card that is not this
    customer's.  Raised before any Stripe request, with nothing changed."""


class SignatureError(BillingError):
    """The request is not a correctly signed, recent event from Stripe.  Answer 400 and store nothing."""


class WebhookNotConfiguredError(SignatureError):
    """No ``STRIPE_WEBHOOK_ENDPOINT_SECRET`` is set, so no event can be trusted."""


class MalformedEventError(BillingError, ValueError):
    """The verified body is not a Stripe event that can be stored: answer 400 and store nothing."""


class BadRequest(BillingError):
    """A malformed request body sent to the JSON API; ``errors`` maps each field to its problem."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        super().__init__(field_errors)
        self.errors = field_errors


class VerbsNotPluggedError(BillingError):
    """A model verb was called in a process where no application has called ``StripeBilling.init_app``."""

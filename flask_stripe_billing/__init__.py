"""flask-stripe-billing: take money through Stripe in a Flask application.

The public names are below: the extension, the mixin, the decorator and every exception (all derive from
:class:`BillingError`).  Models are in :mod:`flask_stripe_billing.models`, signals in
:mod:`flask_stripe_billing.signals`, the verbs in the domain packages (:mod:`flask_stripe_billing.customers`,
:mod:`~flask_stripe_billing.subscriptions`, :mod:`~flask_stripe_billing.charges`,
:mod:`~flask_stripe_billing.coupons`); docs/architecture.rst shows how the package is laid out.
"""

from .billable import BillableMixin
from .errors import (
    AuthenticationError,
    BadRequest,
    BillingError,
    CardError,
    ChargeStateError,
    CheckoutError,
    ConfigurationError,
    ConfigurationWarning,
    CouponError,
    CustomerError,
    IdempotencyError,
    InvalidRequestError,
    MalformedEventError,
    NoCustomerError,
    OutcomeUnknownError,
    PaymentActionRequired,
    PlanError,
    RateLimitError,
    SignatureError,
    StripeConnectionError,
    StripeRequestError,
    SubscriptionError,
    VerbsNotPluggedError,
    WebhookNotConfiguredError,
)
from .extension import StripeBilling
from .web.gate import subscription_required

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "BillableMixin",
    "BillingError",
    "CardError",
    "ChargeStateError",
    "CheckoutError",
    "ConfigurationError",
    "ConfigurationWarning",
    "CouponError",
    "CustomerError",
    "IdempotencyError",
    "InvalidRequestError",
    "MalformedEventError",
    "NoCustomerError",
    "OutcomeUnknownError",
    "PaymentActionRequired",
    "PlanError",
    "RateLimitError",
    "SignatureError",
    "StripeBilling",
    "StripeConnectionError",
    "StripeRequestError",
    "SubscriptionError",
    "VerbsNotPluggedError",
    "WebhookNotConfiguredError",
    "__version__",
    "subscription_required",
]

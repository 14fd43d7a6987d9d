"""flask-stripe-billing: take money through Stripe in a Flask application.

The public names are below; models are in :mod:`flask_stripe_billing.models`, signals in
:mod:`flask_stripe_billing.signals`, exceptions in :mod:`flask_stripe_billing.errors`.
"""

from .billable import BillableMixin
from .errors import BillingError, CardError, ConfigurationError, OutcomeUnknownError, StripeRequestError
from .extension import StripeBilling

__version__ = "0.1.0"

__all__ = [
    "BillableMixin",
    "BillingError",
    "CardError",
    "ConfigurationError",
    "OutcomeUnknownError",
    "StripeBilling",
    "StripeRequestError",
    "__version__",
]

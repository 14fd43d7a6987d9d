"""Stripe API requests checked against Stripe's OpenAPI description, and a local stub.

* :mod:`.spec` — :class:`StripeSpec` (routing, decoding, validation), :class:`SpecViolation`, :func:`load_spec`;
* :mod:`.newer` — what the API gained after the bundled spec (allow-lists);
* :mod:`.http_client` — :class:`ValidatingHTTPClient`, a ``stripe.HTTPClient`` that validates and records;
* :mod:`.stub` — :class:`StripeStub`, a local server answering with objects shaped like Stripe's fixtures.
"""

from .http_client import ValidatingHTTPClient
from .newer import NEWER_OPERATIONS, NEWER_PARAMETERS, NewerOperation
from .records import RecordedRequest
from .spec import CheckedRequest, SpecViolation, StripeSpec, load_spec
from .stub import StripeStub, stripe_error

__all__ = [
    "NEWER_OPERATIONS",
    "NEWER_PARAMETERS",
    "CheckedRequest",
    "NewerOperation",
    "RecordedRequest",
    "SpecViolation",
    "StripeSpec",
    "StripeStub",
    "ValidatingHTTPClient",
    "load_spec",
    "stripe_error",
]

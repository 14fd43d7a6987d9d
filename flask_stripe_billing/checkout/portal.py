"""The Customer Portal: Stripe's hosted page where a customer changes card, plan or quantity, or cancels.

.. code-block:: python

    return redirect(billing.billing_portal_url(user), code=303)

What the customer changes there comes back by webhook (``customer.subscription.updated``, ``customer.updated``,
``payment_method.attached``...) and is mirrored by the handlers the rest of the package uses; a subscription
started there is adopted (:mod:`flask_stripe_billing.webhooks.handlers.subscriptions`).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..core.state import get_state
from ..models.customer import StripeCustomer
from .sessions import absolute_url, external_url

#: The account page, where the portal leads back to by default.
ACCOUNT_ENDPOINT = "stripe_billing.account"


def billing_portal_url(subscriber: Any, return_url: str | None = None, **stripe_options: Any) -> str:
    """A new Customer Portal session for the subscriber's customer; return its URL.  **Calls Stripe.**

    The session uses ``STRIPE_PORTAL_CONFIGURATION`` unless *stripe_options* name a ``configuration``.

    :param return_url: where the portal's back link leads (absolute); by default the account page.
    :param stripe_options: more ``POST /v1/billing_portal/sessions`` parameters (``configuration``,
        ``flow_data``, ``locale``), as they are.
    :raises flask_stripe_billing.errors.NoCustomerError: when the subscriber has no customer yet.
    :raises flask_stripe_billing.errors.CheckoutError: for a *return_url* that is not an absolute http(s) URL, or
        when the default cannot be built (outside a request without ``SERVER_NAME``).
    """
    customer = StripeCustomer.get_latest_active_customer_for_user(subscriber)
    if customer is None or not customer.stripe_customer_id:
        raise errors.NoCustomerError(f"{subscriber!r} has no Stripe customer yet: nothing to manage in the portal.")
    target = absolute_url("return_url", return_url) if return_url is not None else external_url(ACCOUNT_ENDPOINT)
    gateway = get_state().gateway
    key = gateway.new_idempotency_key("billing_portal_session", "create")
    params = {"customer": customer.stripe_customer_id, "return_url": target, **stripe_options}
    if "configuration" not in params:
        configuration = portal_configuration()
        if configuration:
            params["configuration"] = configuration
    data = gateway.request("post", "/v1/billing_portal/sessions", params, idempotency_key=key)
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise errors.OutcomeUnknownError("Stripe answered the portal session without a url.")
    return url


def portal_configuration() -> str | None:
    """``STRIPE_PORTAL_CONFIGURATION``: the id as configured, or what its callable returns now."""
    configured = get_state().config.portal_configuration
    value = configured() if callable(configured) else configured
    if value is not None and not (isinstance(value, str) and value):
        raise errors.ConfigurationError("STRIPE_PORTAL_CONFIGURATION", f"returned {value!r}, not an id or None.")
    return value

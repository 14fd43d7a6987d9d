"""What the API gained after the bundled spec (API 2023-08-16).

The ``stripe`` library pins a much newer API version, so a request it sends
may use a parameter or an endpoint the spec does not describe.  Each entry
here is a deliberate exception; say *why* next to it (which library type or
changelog entry introduced it), so it can be dropped when the spec is
refreshed.

Parameter names use Stripe's bracket notation, as in its error messages:
``"discounts"``, ``"subscription_data[billing_mode]"``.  ``*`` stands for any
key at that level, typically a list index: ``"items[*][discounts]"``.  Listed
parameters are taken out before validation (so they are not checked at all)
and put back, as decoded strings, in the recorded request.
"""

from __future__ import annotations

from dataclasses import dataclass

NEWER_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {
    # Coupons on subscriptions: stripe 16's SubscriptionCreateParams / SubscriptionUpdateParams offer
    # `discounts` (a list of {coupon | promotion_code | discount}) and no longer a top-level `coupon`
    # or `promotion_code`; the 2023 spec only has the latter.
    # Subscription items naming a plan: stripe 16's SubscriptionCreateParamsItem / SubscriptionUpdateParamsItem
    # have `plan` (plans made with the Plans API), which the 2023 spec leaves out of `items` (it lists only
    # `price`).  The extension sends `plan`, which the offline Stripe (localstripe) also understands.
    ("POST", "/v1/subscriptions"): frozenset({"discounts", "items[*][plan]"}),
    ("POST", "/v1/subscriptions/{subscription_exposed_id}"): frozenset({"discounts", "items[*][plan]"}),
}


@dataclass(frozen=True)
class NewerOperation:
    """An endpoint the spec lacks.  Only top-level parameter names are checked."""

    parameters: frozenset[str]
    # Component schema of the 200 answer (see ``StripeSpec.response_schema_name``), used by the stub.
    response: str | None = None


NEWER_OPERATIONS: dict[tuple[str, str], NewerOperation] = {
    # Invoice previews (prorations): the library has only `invoices.create_preview`; the spec has only
    # GET /v1/invoices/upcoming, which stripe 16 no longer offers.  Without this entry the request would be
    # routed to POST /v1/invoices/{invoice} (an update of an invoice called "create_preview").
    # Names from stripe/params/_invoice_create_preview_params.py.
    ("POST", "/v1/invoices/create_preview"): NewerOperation(
        parameters=frozenset(
            {
                "automatic_tax",
                "currency",
                "customer",
                "customer_account",
                "customer_details",
                "discounts",
                "expand",
                "invoice_items",
                "issuer",
                "on_behalf_of",
                "preview_mode",
                "schedule",
                "schedule_details",
                "subscription",
                "subscription_details",
            }
        ),
        response="invoice",
    ),
}

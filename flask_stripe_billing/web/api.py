"""The JSON API for browser callers: customers, SetupIntents and coupons.

Every route needs a logged-in subscriber (an anonymous caller gets a JSON 401, never a redirect) and answers
in JSON.  State-changing requests must be sent as ``Content-Type: application/json``: a cross-site HTML form
cannot send that content type without a CORS preflight, which protects these routes from CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, jsonify, request

from .. import customers, errors
from ..core.state import get_state
from ..coupons.lookup import coupon_json, get_live_coupon
from ..errors import BadRequest
from ..models.customer import StripeCustomer
from .owner import current_subscriber, owned_customer

F = TypeVar("F", bound=Callable[..., Any])

#: A JSON response and its status.
JSONResult = tuple[Response, int]


def register_api(blueprint: Blueprint) -> None:
    """Add the JSON routes to *blueprint*."""
    blueprint.add_url_rule("/api/customers", "api_create_customer", create_customer_view, methods=["POST"])
    blueprint.add_url_rule(
        "/api/customers/<stripe_customer_id>", "api_customer", customer_view, methods=["GET", "PATCH"]
    )
    blueprint.add_url_rule("/api/setup-intents", "api_create_setup_intent", setup_intent_view, methods=["POST"])
    blueprint.add_url_rule("/api/coupons/<coupon_id>", "api_coupon", coupon_view, methods=["GET"])


def json_error(status: int, **body: Any) -> JSONResult:
    """A JSON error answer."""
    return jsonify(body), status


def api_view(view: F) -> F:
    """Require a subscriber and, on writes, a JSON body; turn our exceptions into JSON answers."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        subscriber = current_subscriber()
        if subscriber is None:
            return json_error(401, error="Authentication required.")
        if request.method != "GET" and not request.is_json:
            return json_error(415, error="Send the request body as application/json.")
        try:
            return view(subscriber, *args, **kwargs)
        except BadRequest as exc:
            return json_error(400, errors=exc.errors)
        except errors.CardError as exc:
            return json_error(400, stripe_error=exc.user_message)
        except errors.InvalidRequestError as exc:
            return json_error(400, stripe_error=exc.message)
        except errors.StripeRequestError as exc:
            # Stripe unreachable, overloaded or refusing our key: not the caller's fault, and worth a retry.
            return json_error(502, stripe_error=exc.user_message)

    return cast("F", wrapper)


def json_body() -> dict[str, Any]:
    """The request's JSON object, or :class:`BadRequest`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest({"body": "Send a JSON object."})
    return body


def card_from_body(body: dict[str, Any]) -> str:
    """The token id (``stripe_js_response.id``) or payment method id (``payment_method``) of a body."""
    if "payment_method" in body:
        method = body["payment_method"]
        if not isinstance(method, str) or not method.startswith("pm_"):
            raise BadRequest({"payment_method": "Must be a payment method id (pm_...)."})
        return method
    response = body.get("stripe_js_response")
    if not isinstance(response, dict):
        raise BadRequest({"stripe_js_response": "Send the Stripe.js token, or payment_method."})
    token = response.get("id")
    if not isinstance(token, str) or not token.startswith("tok_"):
        raise BadRequest({"stripe_js_response.id": "Must be a token id (tok_...)."})
    return token


def customer_json(customer: StripeCustomer) -> dict[str, Any]:
    """The public JSON form of a customer."""
    return {
        "id": customer.id,
        "stripe_customer_id": customer.stripe_customer_id,
        "is_active": customer.is_active,
        "sources": customer.sources or [],
        "default_source": customer.default_source,
        "default_source_data": customer.default_source_data,
        "created_at": customer.created_at.isoformat() if customer.created_at else None,
    }


@api_view
def create_customer_view(subscriber: Any) -> JSONResult:
    """``POST /api/customers``: create the subscriber's customer with a token or a payment method."""
    card = card_from_body(json_body())
    customer = customers.create_customer(subscriber, card)
    return jsonify(customer_json(customer)), 201


@api_view
def customer_view(subscriber: Any, stripe_customer_id: str) -> JSONResult:
    """``GET`` a customer, or ``PATCH`` it with ``{"default_source": id}``; owner only."""
    customer = owned_customer(subscriber, stripe_customer_id)
    if customer is None:
        return json_error(404, error="No such customer.")
    if request.method == "PATCH":
        source = json_body().get("default_source")
        if not isinstance(source, str) or source not in customer.card_ids:
            raise BadRequest({"default_source": "Must be the id of one of this customer's cards."})
        customers.set_default_source(customer, source)
    return jsonify(customer_json(customer)), 200


@api_view
def setup_intent_view(subscriber: Any) -> JSONResult:
    """``POST /api/setup-intents``: a SetupIntent (for the subscriber's customer, if any); its client secret."""
    customer = StripeCustomer.get_latest_active_customer_for_user(subscriber)
    params: dict[str, Any] = {"payment_method_types": ["card"], "usage": "off_session"}
    if customer is not None and customer.stripe_customer_id:
        params["customer"] = customer.stripe_customer_id
    intent = get_state().gateway.request(
        "post", "/v1/setup_intents", params, object_type="setup_intent", action="create"
    )
    return jsonify({"id": intent["id"], "client_secret": intent.get("client_secret")}), 201


@api_view
def coupon_view(subscriber: Any, coupon_id: str) -> JSONResult:
    """``GET /api/coupons/<coupon_id>``: a live coupon's public fields; a deleted or unknown one is a 404."""
    coupon = get_live_coupon(coupon_id)
    if coupon is None:
        return json_error(404, error="No such coupon.")
    return jsonify(coupon_json(coupon)), 200


#: The views that accept writes (JSON bodies only), exempted from Flask-WTF's ``CSRFProtect`` (see
#: :data:`flask_stripe_billing.web.csrf.EXEMPT_VIEWS`).
API_WRITE_VIEWS = (create_customer_view, customer_view, setup_intent_view)

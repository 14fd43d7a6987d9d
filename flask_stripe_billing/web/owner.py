"""Who is asking, and what is theirs: every owner-scoped lookup of the pages and the JSON API.

A page or API call finds rows only through these functions, which compare the row's ``subscriber_id`` with the
subscriber of the request; "no such row" and "someone else's row" get the same answer, so that ids of other
subscribers cannot be probed.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import abort, current_app, request
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from ..core.shapes import could_be_stripe_id
from ..core.state import get_state
from ..models.base import subscriber_key
from ..models.customer import StripeCustomer

M = TypeVar("M")

#: The largest id of the extension's rows (a 32-bit ``INTEGER`` primary key).
MAX_ROW_ID = 2**31 - 1


def current_subscriber() -> Any:
    """The subscriber of this request: ``STRIPE_SUBSCRIBER_REQUEST_CALLBACK``, else Flask-Login's user."""
    callback = get_state().config.subscriber_request_callback
    if callback is not None:
        return callback(request)
    try:
        from flask_login import current_user  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - Flask-Login is optional
        return None
    if not getattr(current_user, "is_authenticated", False):
        return None
    return current_user._get_current_object()


def owned_customer(subscriber: Any, stripe_customer_id: str) -> StripeCustomer | None:
    """The subscriber's customer with that Stripe id, or ``None`` (also when someone else owns it)."""
    if not could_be_stripe_id(stripe_customer_id):
        return None
    query = sa.select(StripeCustomer).where(
        StripeCustomer.stripe_customer_id == stripe_customer_id,
        StripeCustomer.subscriber_id == subscriber_key(subscriber),
    )
    return get_state().db.session.scalars(query).first()


def ask_to_log_in() -> Response:
    """The answer to an anonymous visitor: Flask-Login's ``unauthorized()`` (the login page), else a 401."""
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is not None:
        return cast("Response", login_manager.unauthorized())
    raise Unauthorized()


def owned_or_404(model: type[M], row_id: int, subscriber: Any) -> M:
    """The row of *model* with *row_id* owned by *subscriber*; 404 otherwise (also when it is someone else's).

    The answer is the same for "no such row" and "not yours", so ids of other subscribers cannot be probed.
    """
    if not 0 < row_id <= MAX_ROW_ID:
        abort(404)  # an id no integer column can hold: PostgreSQL would refuse the query itself
    row = get_state().db.session.get(model, row_id)
    if row is None or getattr(row, "subscriber_id", None) != subscriber_key(subscriber):
        abort(404)
    return row


def current_customer(subscriber: Any) -> StripeCustomer | None:
    """The subscriber's customer in use (reads only the database)."""
    return StripeCustomer.get_latest_active_customer_for_user(subscriber)

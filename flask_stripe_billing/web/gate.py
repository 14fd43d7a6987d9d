"""The subscription gate: views that only paying subscribers may see.

Two ways in: :func:`subscription_required` on one view, and :func:`require_subscription` (also reachable as
``billing.require_subscription(app_or_blueprint)``) for every view of an application or a blueprint, with the
exemptions of ``STRIPE_SUBSCRIPTION_REQUIRED_EXEMPT_URLS``.

The gate reads only the database: it never calls Stripe and never creates a customer, so it is cheap on every
request and cannot fail because Stripe is slow.  Who has access (see :func:`has_access`):

================================  =====================================================================
status                            access
================================  =====================================================================
``active``                        yes
``trialing``                      yes, until ``trial_end``
``past_due``                      yes, while Stripe retries the payment (``allow_past_due=False`` refuses)
``canceling``                     yes, until ``current_period_end`` (what was paid for), then no
``incomplete``                    no: the first payment has not gone through
``incomplete_expired``,           no
``canceled``, ``unpaid``,
``paused``
================================  =====================================================================

A subscription whose local ``end_date`` has passed gives no access either, even before
``flask stripe end-subscriptions`` has ended it at Stripe.  Nor does one whose payment collection is paused at
Stripe (``pause_collection``, whatever its ``behavior``; Stripe leaves the status as it was), until Stripe
resumes it or the pause's ``resumes_at`` passes.

A visitor refused for want of access is redirected with an ``"info"`` message flashed in customer words
(:data:`NO_PLAN_MESSAGE`, or :data:`PAUSED_MESSAGE` when their subscription is paused), which the plans page
shows; a page of the host's own named by ``STRIPE_SUBSCRIPTION_REDIRECT`` shows it if its template renders
``get_flashed_messages()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast, overload

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, request, session, url_for
from flask.sessions import NullSession
from werkzeug.wrappers import Response

from ..core.state import get_state
from ..subscriptions.verbs import active_subscription, is_subscribed
from .blueprint import create_blueprint
from .owner import ask_to_log_in, current_subscriber

F = TypeVar("F", bound=Callable[..., Any])

#: The module the ``stripe_billing`` blueprint is created in: every blueprint made by it is exempt, whatever
#: name the host registered it under.
BILLING_BLUEPRINT_MODULE = create_blueprint.__module__

#: The blueprint of Flask-DebugToolbar, exempt when the application runs with ``DEBUG``.
DEBUG_TOOLBAR_BLUEPRINT = "debugtoolbar"

#: Flashed (category ``"info"``) when a subscriber without access is sent to choose a plan.
NO_PLAN_MESSAGE = "Choose a plan to use this page."

#: Flashed instead when the subscriber's subscription is there but its payment collection is paused.
PAUSED_MESSAGE = "Your subscription is paused, so this page is not available until it resumes."


def has_access(subscriber: Any, *, allow_past_due: bool = True, now: dt.datetime | None = None) -> bool:
    """Whether *subscriber* may pass the gate, by the policy in this module's documentation: the rule of
    :func:`flask_stripe_billing.subscriptions.verbs.is_subscribed`.  Reads only the database (one query)."""
    return is_subscribed(subscriber, allow_past_due=allow_past_due, now=now)


def refuse_non_payer(subscriber: Any = None) -> Response:
    """The answer to a subscriber without access: ``STRIPE_SUBSCRIPTION_REDIRECT``, else the plans page.

    The redirect comes with an ``"info"`` flash saying why: :data:`PAUSED_MESSAGE` when *subscriber*'s
    subscription has its payment collection paused, else :data:`NO_PLAN_MESSAGE` (nothing is flashed when the
    application has no session, e.g. no ``SECRET_KEY``).  A caller that asks for JSON gets
    ``402 Payment Required`` instead of a redirect it cannot follow.
    """
    if request.accept_mimetypes.best == "application/json":
        response = jsonify(error="An active subscription is required.", redirect=subscription_redirect_url())
        response.status_code = 402
        return response
    if not isinstance(session, NullSession):
        flash(PAUSED_MESSAGE if _is_paused(subscriber) else NO_PLAN_MESSAGE, "info")
    return redirect(subscription_redirect_url())


def _is_paused(subscriber: Any) -> bool:
    """Whether *subscriber*'s running subscription has its payment collection paused.  Reads only the database."""
    if subscriber is None:
        return False
    subscription = active_subscription(subscriber)
    return subscription is not None and subscription.is_collection_paused()


def subscription_redirect_url() -> str:
    """Where non-payers go: ``STRIPE_SUBSCRIPTION_REDIRECT`` (a URL, or an endpoint name), else the plans page."""
    target = get_state().config.subscription_redirect
    if target is None:
        next_url = request.full_path.rstrip("?") if request.method == "GET" else None
        return url_for(f"{billing_blueprint_name()}.plans", next=next_url)
    if target.startswith(("/", "http://", "https://")):
        return target
    return url_for(target)


def check_subscription(*, allow_past_due: bool = True) -> Response | None:
    """``None`` when the current visitor may go on; otherwise the login page or the redirect for non-payers."""
    subscriber = current_subscriber()
    if subscriber is None:
        return ask_to_log_in()
    if has_access(subscriber, allow_past_due=allow_past_due):
        return None
    return refuse_non_payer(subscriber)


@overload
def subscription_required(view: F) -> F: ...


@overload
def subscription_required(view: None = None, *, allow_past_due: bool = True) -> Callable[[F], F]: ...


def subscription_required(view: F | None = None, *, allow_past_due: bool = True) -> F | Callable[[F], F]:
    """Let only subscribers with access (see :func:`has_access`) reach *view*.

    .. code-block:: python

        @app.route("/reports")
        @login_required
        @subscription_required
        def reports(): ...

        @app.route("/exports")
        @subscription_required(allow_past_due=False)
        def exports(): ...

    Anonymous visitors are sent to log in; subscribers without access to ``STRIPE_SUBSCRIPTION_REDIRECT``.
    The exemptions of ``STRIPE_SUBSCRIPTION_REQUIRED_EXEMPT_URLS`` do not apply: the decorator is explicit.
    """

    def decorate(function: F) -> F:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refusal = check_subscription(allow_past_due=allow_past_due)
            if refusal is not None:
                return refusal
            return function(*args, **kwargs)

        return cast("F", wrapper)

    return decorate(view) if view is not None else decorate


def require_subscription(app_or_blueprint: Flask | Blueprint, *, allow_past_due: bool = True) -> None:
    """Gate every view of *app_or_blueprint*, except the exempt ones (see :func:`is_exempt`).

    Call it before the blueprint is registered (Flask refuses new request hooks after that).
    """

    def gate() -> Response | None:
        if is_exempt(get_state().config.subscription_required_exempt_urls):
            return None
        return check_subscription(allow_past_due=allow_past_due)

    app_or_blueprint.before_request(gate)


def is_exempt(exemptions: Iterable[str]) -> bool:
    """Whether the current request is exempt from :func:`require_subscription`.

    Always exempt: the billing blueprint (where non-payers go to pay), static files, and the debug toolbar when
    ``DEBUG`` is on.  Then each entry of *exemptions*: ``"(name)"`` or ``"[name]"`` exempts every endpoint of
    blueprint ``name`` (and of the blueprints nested in it); ``"bp.view"`` exempts that endpoint; ``"view"``
    the application-level endpoint ``view``.  A request that matched no URL (a 404 or 405 to come) is exempt,
    so that it gets its real answer.
    """
    endpoint = request.endpoint
    if endpoint is None:
        return True
    blueprints = request.blueprints
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    if any(_is_billing_blueprint(name) for name in blueprints):
        return True
    if current_app.debug and DEBUG_TOOLBAR_BLUEPRINT in blueprints:
        return True
    for entry in exemptions:
        entry = entry.strip()
        if entry[:1] + entry[-1:] in ("()", "[]"):
            if entry[1:-1].strip() in blueprints:
                return True
        elif entry == endpoint:
            return True
    return False


def billing_blueprint_name() -> str:
    """The name the billing blueprint is registered under (``stripe_billing`` unless the host chose another)."""
    for name in current_app.blueprints:
        if _is_billing_blueprint(name):
            return name
    return "stripe_billing"


def _is_billing_blueprint(name: str) -> bool:
    blueprint = current_app.blueprints.get(name)
    return blueprint is not None and blueprint.import_name == BILLING_BLUEPRINT_MODULE

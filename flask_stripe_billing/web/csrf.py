"""CSRF protection of the billing pages, with or without Flask-WTF's ``CSRFProtect`` on the host.

Every state-changing form of the pages carries a token, and every POST to a page is checked:

* When the host uses ``CSRFProtect`` (``app.extensions["csrf"]``), its token is rendered and checked with
  Flask-WTF's own ``validate_csrf`` — one token for the host's forms and ours, ``WTF_CSRF_FIELD_NAME``,
  ``WTF_CSRF_TIME_LIMIT`` and ``WTF_CSRF_ENABLED`` respected.  The webhook route is exempted from it, since
  Stripe cannot send a token (its requests are authenticated by their signature instead), and so is the JSON
  API (see :data:`EXEMPT_VIEWS`).
* Otherwise a random token kept in the session (under a key of our own, so it never clashes with Flask-WTF's)
  is compared in constant time.

The JSON API needs no form token (see :mod:`flask_stripe_billing.web.api`); the pages' script sends the token in
an ``X-CSRFToken`` header anyway, so a host that protects the API itself keeps working.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, request, session
from flask.sansio.app import App

from .api import API_WRITE_VIEWS
from .webhook import receive_webhook


def _dotted(view: Callable[..., Any]) -> str:
    """The name Flask-WTF's ``CSRFProtect.exempt`` knows a view by: its module and name."""
    return f"{view.__module__}.{view.__name__}"


#: The session key of our own token (used without Flask-WTF).
SESSION_KEY = "_stripe_billing_csrf"

#: The form field and header the token travels in when Flask-WTF is not used.
DEFAULT_FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRFToken"

#: The webhook view, exempted from ``CSRFProtect``: Stripe signs its requests instead.
WEBHOOK_VIEW = _dotted(receive_webhook)

#: Every view exempted from ``CSRFProtect``: the webhook, and the JSON API, whose writes must be
#: ``application/json`` (a cross-site page cannot send that without a CORS preflight), so that a host's own
#: scripts can call it without Flask-WTF's header.  A test checks that every ``api_*`` endpoint is listed.
EXEMPT_VIEWS = (WEBHOOK_VIEW, *(_dotted(view) for view in API_WRITE_VIEWS))


def host_protect() -> Any:
    """The host's Flask-WTF ``CSRFProtect``, or ``None``."""
    return current_app.extensions.get("csrf")


def field_name() -> str:
    """The name of the form field carrying the token."""
    if host_protect() is not None:
        return str(current_app.config.get("WTF_CSRF_FIELD_NAME", DEFAULT_FIELD_NAME))
    return DEFAULT_FIELD_NAME


def generate_token() -> str:
    """The token to render in this response's forms (and its ``<meta name="csrf-token">``)."""
    if host_protect() is not None:
        from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]

        return str(generate_csrf())
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def check_token() -> None:
    """Refuse (400) the current request unless it carries this session's token (form field or header)."""
    sent = request.form.get(field_name()) or request.headers.get(HEADER_NAME) or ""
    protect = host_protect()
    if protect is not None:
        if not current_app.config.get("WTF_CSRF_ENABLED", True) or g.get("csrf_valid"):
            return  # disabled by the host, or already checked by CSRFProtect for this request
        from flask_wtf.csrf import ValidationError, validate_csrf  # type: ignore[import-untyped]

        try:
            validate_csrf(sent)
        except ValidationError:
            abort(400, description="The form has expired or was not sent from this site; please try again.")
        return
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form has expired or was not sent from this site; please try again.")


def install(app: App) -> None:
    """Exempt :data:`EXEMPT_VIEWS` from the host's ``CSRFProtect``, whether it is set up before or after us.

    ``CSRFProtect`` checks requests in a ``before_request`` function; ours runs first (it is put at the front)
    and marks the views exempt by name, which ``CSRFProtect`` compares against.
    """

    def exempt_views() -> None:
        protect = app.extensions.get("csrf")
        if protect is not None:
            for view in EXEMPT_VIEWS:
                protect.exempt(view)

    app.before_request_funcs.setdefault(None, []).insert(0, exempt_views)

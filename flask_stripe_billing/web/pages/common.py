"""What every billing page shares: login, ownership, CSRF on POST, safe redirects, rendering."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import render_template, request, url_for

from .. import csrf
from ..owner import MAX_ROW_ID, ask_to_log_in, current_subscriber

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")


def page_view(view: F) -> F:
    """Require a subscriber (else the login page) and, on POST, this session's CSRF token.

    The view is called with the subscriber as its first argument.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        subscriber = current_subscriber()
        if subscriber is None:
            return ask_to_log_in()
        if request.method == "POST":
            csrf.check_token()
        return view(subscriber, *args, **kwargs)

    return cast("F", wrapper)


def row_id_from_form(field: str) -> int | None:
    """The form field *field* as a row id, or ``None`` when it is not one (empty, not ASCII digits, too big)."""
    value = request.form.get(field, "")
    # The length first: int() refuses strings of over 4,300 digits with an error of its own.
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or not 0 < int(value) <= MAX_ROW_ID:
        return None
    return int(value)


def is_local_path(target: str) -> bool:
    """Whether *target* is a path on this site, safe to redirect to.

    Refuses absolute and scheme-relative URLs (``//evil.test``, a backslash or a tab after the slash, which
    browsers read the same way), so that a ``next`` parameter cannot make a page an open redirect.
    """
    parts = urlsplit(target)
    on_site = target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc
    return on_site and "\\" not in target and target.isprintable()


def safe_next(default_endpoint: str = ".account", **values: Any) -> str:
    """The ``next`` URL of the request when it is a path on this site (:func:`is_local_path`), else
    *default_endpoint*'s URL."""
    target = request.values.get("next") or ""
    return target if is_local_path(target) else url_for(default_endpoint, **values)


def render(template: str, **context: Any) -> str:
    """Render ``stripe_billing/<template>`` (a host overrides it by placing a file at the same path)."""
    return render_template(f"stripe_billing/{template}", **context)

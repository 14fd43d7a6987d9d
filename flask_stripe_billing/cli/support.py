"""What every ``flask stripe`` command shares: an application context, and a one-line error when the
application's Stripe configuration was refused."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext

from ..core.state import get_state
from ..errors import ConfigurationError

F = TypeVar("F", bound=Callable[..., Any])


def billing_command(callback: F) -> F:
    """Run *callback* in the application's context (pushing one if none is), after checking the extension's
    configuration.

    ``flask`` lists an application's commands even when its Stripe settings were refused (see
    :meth:`~flask_stripe_billing.StripeBilling.init_app`), so that ``--help`` works; such a command stops here
    with the configuration error as a one-line message and exit status 1, without a traceback.
    """

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            get_state().config  # noqa: B018 - raises the refused configuration's error
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from None
        return callback(*args, **kwargs)

    return with_appcontext(checked)  # type: ignore[return-value]

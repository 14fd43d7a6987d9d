"""Per-application state, stored in ``app.extensions["stripe_billing"]``.

Nothing here is global: two applications in one process each have their own configuration, Stripe client,
rate limiter and subscriber model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from ..config import BillingConfig

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .client import StripeGateway

#: The key under which the state is stored in ``app.extensions``.
EXTENSION_KEY = "stripe_billing"


@dataclass
class BillingState:
    """What ``init_app`` set up for one application."""

    config: BillingConfig
    db: SQLAlchemy
    subscriber_model: type[Any]
    gateway: StripeGateway


def get_state(app: Flask | None = None) -> BillingState:
    """The state of *app* (default: the current application).

    :raises RuntimeError: if flask-stripe-billing was not initialised on that application.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            f"flask-stripe-billing is not initialised on application {app.name!r}: call billing.init_app(app, db=db)."
        ) from None

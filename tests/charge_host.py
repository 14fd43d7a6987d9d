"""A host application for ``flask stripe charge`` run as a real process by the reliability tests.

Configured from the environment: ``DATABASE_URL``, ``STRIPE_API_BASE`` (the fault proxy),
``STRIPE_REQUESTS_PER_SECOND`` and ``STRIPE_MAX_NETWORK_RETRIES``.

    FLASK_APP=tests.charge_host:create_app flask stripe charge
"""

from __future__ import annotations

import os

from flask import Flask

from flask_stripe_billing.offline import OFFLINE_API_KEY
from tests import hostapp


def create_app() -> Flask:
    return hostapp.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
            "STRIPE_API_KEY": OFFLINE_API_KEY,
            "STRIPE_API_BASE": os.environ["STRIPE_API_BASE"],
            "STRIPE_REQUESTS_PER_SECOND": float(os.environ.get("STRIPE_REQUESTS_PER_SECOND", "20")),
            "STRIPE_MAX_NETWORK_RETRIES": int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "0")),
        }
    )

"""A small SaaS that bills its users through flask-stripe-billing.

It has sign-up and log-in (Flask-Login), a pricing page and card pages (the extension's), a premium area
behind ``@subscription_required``, a one-off purchase paid on the extension's payment page, and an admin page
listing recent webhooks and failed and pending charges.  ``python3 dev.py demo`` runs it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from flask_stripe_billing import StripeBilling

from .models import User, db
from .seed import seed
from .views import site

login = LoginManager()
login.login_view = "site.login"
csrf = CSRFProtect()
billing = StripeBilling()

#: The offline Stripe's settings, in the instance folder, while the demo runs.
OFFLINE_SETTINGS = "offline-stripe.json"
#: The demo's SQLite database, in the instance folder.
DATABASE = "demo.sqlite"

__all__ = ["User", "billing", "create_app", "db", "instance_folder"]


@login.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def instance_folder() -> str:
    """Where the demo keeps its database and offline Stripe: ``EXAMPLE_APP_INSTANCE_PATH``, or ``instance/``
    beside the ``example_app`` package."""
    return os.path.abspath(
        os.environ.get("EXAMPLE_APP_INSTANCE_PATH") or os.path.join(os.path.dirname(__file__), os.pardir, "instance")
    )


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The example app; *config* overrides the defaults and ``FLASK_*`` environment variables."""
    app = Flask(__name__, instance_path=instance_folder(), instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "demo-only-secret"),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(app.instance_path, DATABASE)}",
        # Subscribing and paying go through Stripe Checkout; "Manage billing" opens the Customer Portal with
        # the configuration the demo makes (its plans, switchable).  ``FLASK_STRIPE_CHECKOUT=false`` brings
        # back the card form.
        STRIPE_CHECKOUT=True,
        STRIPE_PORTAL_CONFIGURATION="example_app.seed:portal_configuration",
    )
    # Written by ``python -m example_app`` while it runs an offline Stripe, so that ``flask --app example_app
    # stripe ...`` commands in another terminal talk to the same one.
    # Never with a real key: a file left by a killed demo must not send it to an old local port.
    if not (os.environ.get("STRIPE_API_KEY") or os.environ.get("FLASK_STRIPE_API_KEY")):
        app.config.from_file(os.path.join(app.instance_path, OFFLINE_SETTINGS), load=json.load, silent=True)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    Migrate(app, db)
    login.init_app(app)
    csrf.init_app(app)
    billing.init_app(app, db=db, subscriber_model=User)
    app.register_blueprint(site)
    with app.app_context():
        db.create_all()
        seed()
    return app

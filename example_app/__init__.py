"""A small SaaS that bills its users through flask-stripe-billing (grows into the full demo)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template
from flask_login import LoginManager, UserMixin
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling, StripeRequestError
from flask_stripe_billing.models import StripeSubscriptionPlan

db = SQLAlchemy()
login = LoginManager()
billing = StripeBilling()

PLANS = [
    {"name": "Starter", "amount": 900, "currency": "usd", "interval": "month"},
    {"name": "Pro", "amount": 2900, "currency": "usd", "interval": "month", "trial_period_days": 14},
    {"name": "Pro yearly", "amount": 29000, "currency": "usd", "interval": "year"},
]


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)


@login.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "demo-only-secret"),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(app.instance_path, 'demo.sqlite')}",
    )
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    Migrate(app, db)
    login.init_app(app)
    billing.init_app(app, db=db, subscriber_model=User)

    @app.get("/")
    def home() -> str:
        plans = db.session.scalars(db.select(StripeSubscriptionPlan).order_by(StripeSubscriptionPlan.amount)).all()
        try:
            billing.gateway.request("get", "/v1/customers", {"limit": 1})
            stripe_status = "reachable"
        except StripeRequestError as exc:
            stripe_status = f"unreachable: {exc.message}"
        return render_template("home.html", plans=plans, stripe_status=stripe_status, config=billing.config)

    with app.app_context():
        db.create_all()
        seed_plans()
    return app


def seed_plans() -> None:
    """Create the demo plans locally once."""
    if db.session.scalar(db.select(db.func.count()).select_from(StripeSubscriptionPlan)):
        return
    db.session.add_all(StripeSubscriptionPlan(**plan) for plan in PLANS)
    db.session.commit()

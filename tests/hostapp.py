"""A small host application, built the way the documentation tells users to build theirs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling

db = SQLAlchemy()
login = LoginManager()


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)


@login.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


# A second host whose subscribers are organizations, on a database object of its own.
org_db = SQLAlchemy()


class Organization(org_db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organizations"
    id = org_db.Column(org_db.Integer, primary_key=True)
    name = org_db.Column(org_db.String(255), nullable=False)
    billing_email = org_db.Column(org_db.String(255), nullable=False)

    @property
    def email(self) -> str:
        return str(self.billing_email)


def create_app(config: dict[str, Any], *, billing: StripeBilling | None = None, **init_kwargs: Any) -> Flask:
    """A host app with *config*; ``init_kwargs`` go to ``billing.init_app``."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", TESTING=True)
    app.config.update(config)
    database = init_kwargs.pop("db", db)
    database.init_app(app)
    login.init_app(app)
    (billing or StripeBilling()).init_app(app, db=database, **{"subscriber_model": User, **init_kwargs})
    return app

"""The example app's own tables: its users (the subscribers Stripe bills)."""

from __future__ import annotations

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash, generate_password_hash

from flask_stripe_billing import BillableMixin

db = SQLAlchemy()


class User(BillableMixin, UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A customer of the example SaaS; ``is_admin`` opens the admin page.

    ``BillableMixin`` adds ``subscribed()``, ``subscription()``, ``on_trial()``, ``subscribe(plan)``,
    ``charge(amount)``... (no columns).
    """

    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

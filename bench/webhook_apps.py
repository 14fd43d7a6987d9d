"""The two applications the webhook benchmark compares, built from ``DATABASE_URL``.

* ``ours()`` — a host application with flask-stripe-billing, default configuration (events processed in the
  web process once the answer is sent).
* ``ours_handoff()`` — the same with ``STRIPE_WEBHOOK_EVENT_CALLBACK`` set, as in the Celery recipe: the web
  process only verifies, stores and hands the event on (here to a list standing in for the broker).
* ``baseline()`` — the least a correct endpoint can do: a bare Flask route that verifies the signature and
  stores the raw event with one INSERT.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import sqlalchemy as sa
from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import StripeBilling

SECRET = "whsec_bench"
API_KEY = "sk_test_bench"

db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "bench_users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255))


def ours(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        STRIPE_API_KEY=API_KEY,
        STRIPE_WEBHOOK_ENDPOINT_SECRET=SECRET,
        **config,
    )
    db.init_app(app)
    StripeBilling(app, db=db, subscriber_model=User)
    return app


#: What ``ours_handoff`` hands events to (a task queue's ``delay`` in a real application).
handed_off: list[str] = []


def hand_off(webhook: object) -> None:
    handed_off.append(str(getattr(webhook, "id", "")))


def ours_handoff() -> Flask:
    return ours(STRIPE_WEBHOOK_EVENT_CALLBACK=hand_off)


baseline_metadata = sa.MetaData()
baseline_events = sa.Table(
    "bench_baseline_events",
    baseline_metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)


def baseline() -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DATABASE_URL"])

    @app.post("/billing/webhooks")
    def receive() -> Response:
        payload = request.get_data()
        items = dict(
            part.split("=", 1) for part in request.headers.get("Stripe-Signature", "").split(",") if "=" in part
        )
        timestamp = int(items.get("t", "0"))
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
        if abs(time.time() - timestamp) > 300 or not hmac.compare_digest(expected, items.get("v1", "")):
            return Response(status=400)
        event_id = request.get_json(force=True)["id"]
        with engine.begin() as connection:
            connection.execute(sa.insert(baseline_events).values(id=event_id, body=payload.decode()))
        return Response(status=200)

    return app


def reset_schema() -> None:
    """Empty tables for both applications."""
    app = ours()
    with app.app_context():
        db.drop_all()
        db.create_all()
        baseline_metadata.drop_all(db.engine)
        baseline_metadata.create_all(db.engine)
        db.engine.dispose()

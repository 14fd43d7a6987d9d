"""A host application that hands webhook events to Celery, exactly as the documentation's recipe does.

The test suite starts a real worker on this module (``celery -A tests.celery_host worker``) with the database
and broker named in the environment.
"""

from __future__ import annotations

import os

from celery import Celery

from flask_stripe_billing.models import StripeWebhook
from flask_stripe_billing.testing import TEST_WEBHOOK_SECRET
from flask_stripe_billing.webhooks import process_webhook
from tests import hostapp

celery = Celery(__name__, broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15"))
celery.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)


def create_app() -> hostapp.Flask:
    return hostapp.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
            "STRIPE_API_KEY": "sk_test_celery",
            "STRIPE_WEBHOOK_ENDPOINT_SECRET": TEST_WEBHOOK_SECRET,
            "STRIPE_WEBHOOK_EVENT_CALLBACK": "tests.celery_host:enqueue_stripe_event",
        }
    )


def enqueue_stripe_event(webhook: StripeWebhook) -> None:
    """``STRIPE_WEBHOOK_EVENT_CALLBACK``: runs after the event is committed, so the worker will find it."""
    process_stripe_event.delay(webhook.id)


@celery.task(bind=True, max_retries=5)
def process_stripe_event(self: object, event_id: str) -> None:
    app = create_app()
    with app.app_context():
        if not process_webhook(event_id):
            # The error is stored on the event; try again later, then leave it to replay-webhooks --failed.
            raise self.retry(countdown=30)  # type: ignore[attr-defined]

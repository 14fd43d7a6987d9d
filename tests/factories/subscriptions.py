"""Plans, and the spec stub's answers about subscriptions (what the offline Stripe cannot do)."""

from __future__ import annotations

import time
from typing import Any

from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.models import StripeSubscriptionPlan
from tests.stripe_openapi.stub import StripeStub

DAY = 86400


def created_plan(db: SQLAlchemy, **fields: Any) -> StripeSubscriptionPlan:
    """A monthly plan (``Pro``, $20 unless *fields* say otherwise), created at Stripe."""
    plan = StripeSubscriptionPlan(**{"name": "Pro", "amount": 2000, "currency": "usd", "interval": "month", **fields})
    db.session.add(plan)
    db.session.commit()
    plan.create_at_stripe()
    return plan


def stripe_plan(db: SQLAlchemy, stripe_id: str, **fields: Any) -> StripeSubscriptionPlan:
    """A plan already created at Stripe (the stub accepts any plan id)."""
    values = {"name": stripe_id, "amount": 2000, "currency": "usd", "interval": "month", "is_created_at_stripe": True}
    plan = StripeSubscriptionPlan(stripe_plan_id=stripe_id, **{**values, **fields})
    db.session.add(plan)
    db.session.commit()
    return plan


def item_price(item: dict[str, Any]) -> dict[str, Any]:
    """A subscription item's ``price`` and (older shape) ``plan`` for a requested item (``price`` or ``plan``)."""
    price_id = item.get("price") or item.get("plan")
    return {"price": {"id": price_id, "object": "price"}, "plan": {"id": price_id, "object": "plan"}}


def subscription_object(stub: StripeStub, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A subscription in the current shape (period on the items), stored in the stub."""
    now = int(time.time())
    obj = stub.store.create("subscription", {})
    obj.update(
        {
            "customer": params.get("customer"),
            "status": "active",
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "ended_at": None,
            "trial_start": None,
            "trial_end": None,
            "metadata": params.get("metadata") or {},
            "discounts": [],
            "latest_invoice": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_first",
                        "object": "subscription_item",
                        **item_price(params["items"][0]),
                        "current_period_start": now,
                        "current_period_end": now + 30 * DAY,
                    }
                ],
            },
            **fields,
        }
    )
    obj.pop("current_period_start", None)
    obj.pop("current_period_end", None)
    return obj


def answer_subscriptions(stub: StripeStub, **fields: Any) -> None:
    """Answer every new subscription with :func:`subscription_object` (with *fields*)."""
    stub.on("POST", "/v1/subscriptions", lambda params, stored: (200, subscription_object(stub, params, **fields)))


def answer_plan_changes(stub: StripeStub) -> None:
    """Answer a change of plan (and of ``cancel_at_period_end``) with the stored subscription, changed."""

    def update(params: dict[str, Any], stored: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = stored[params["subscription_exposed_id"]]
        obj["items"]["data"][0].update(item_price(params["items"][0]))
        obj["cancel_at_period_end"] = params.get("cancel_at_period_end", obj["cancel_at_period_end"])
        return 200, obj

    stub.on("POST", "/v1/subscriptions/{subscription_exposed_id}", update)

"""Events that Stripe holds but this endpoint never stored: found, reported, and fetched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..core.state import get_state
from ..models import StripeWebhook, utcnow
from .dispatch import process_webhook
from .store import event_fields, store_event


def pending_events(lookback: dt.timedelta) -> Iterator[dict[str, Any]]:
    """Events at Stripe created since the newest stored one (or within *lookback*) that are not stored here.

    Stripe's ``pending_webhooks`` counts deliveries still to succeed; an event whose deliveries all succeeded
    elsewhere but that is missing here is reported too, since this endpoint did not get it.
    """
    state = get_state()
    session = state.db.session
    newest = session.scalar(sa.select(sa.func.max(StripeWebhook.event_created)))
    since = newest if newest is not None else utcnow() - lookback
    # One second earlier: several events share a timestamp, and those already stored are skipped below.
    params = {"created": {"gt": int(since.timestamp()) - 1}}
    for page in _pages(params):
        ids = [event["id"] for event in page]
        known = set(session.scalars(sa.select(StripeWebhook.id).where(StripeWebhook.id.in_(ids))))
        yield from (event for event in page if event["id"] not in known)


def _pages(params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    gateway = get_state().gateway
    page: list[dict[str, Any]] = []
    for event in gateway.list_all("/v1/events", params):
        page.append(event)
        if len(page) == 100:
            yield page
            page = []
    if page:
        yield page


def fetch_event(event: dict[str, Any]) -> bool:
    """Store *event* (as Stripe listed it) and process it; return whether it was processed."""
    state = get_state()
    store_event(state.db, event_fields(event))
    return process_webhook(event["id"])


def pending_report(site: str, env_prefix: str | None, threshold: int, event_ids: list[str]) -> str:
    """The body of the alert e-mail."""
    lines = [
        f"{len(event_ids)} Stripe event(s) have not reached the webhook endpoint of {site}"
        + (f" ({env_prefix})" if env_prefix else "")
        + f"; the threshold is {threshold}.",
        "",
        "Check that the endpoint is reachable and its signing secret (STRIPE_WEBHOOK_ENDPOINT_SECRET) is right,",
        "then store them with: flask stripe check-pending-webhooks --fetch",
        "",
        "Pending events:",
        *(f"  {event_id}" for event_id in event_ids),
    ]
    return "\n".join(lines) + "\n"

"""``flask stripe replay-webhooks``: process stored events again."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from ..models import StripeWebhook, WebhookStatus, utcnow
from ..state import get_state
from .dispatch import process_webhook

#: An event stored but still not processed after this long was lost on its way to the processor.
STALE_AFTER = dt.timedelta(minutes=5)


@click.command("replay-webhooks")
@click.option("--failed", is_flag=True, help="Only events that failed, or were stored but never processed.")
@click.option("--id", "event_ids", multiple=True, metavar="EVT", help="Only this event (repeatable).")
@click.option("--since", type=click.DateTime(), help="Only events Stripe created at or after this UTC time.")
def replay_webhooks_command(failed: bool, event_ids: tuple[str, ...], since: dt.datetime | None) -> None:
    """Process stored Stripe events again, oldest first; exit 1 if any fails."""
    session = get_state().db.session
    query = sa.select(StripeWebhook.id).order_by(StripeWebhook.event_created, StripeWebhook.received_at)
    if event_ids:
        query = query.where(StripeWebhook.id.in_(event_ids))
    if failed:
        lost = sa.and_(
            StripeWebhook.status.in_([WebhookStatus.RECEIVED, WebhookStatus.PROCESSING]),
            StripeWebhook.received_at < utcnow() - STALE_AFTER,
        )
        query = query.where(sa.or_(StripeWebhook.status == WebhookStatus.FAILED, lost))
    if since is not None:
        query = query.where(StripeWebhook.event_created >= since.replace(tzinfo=dt.UTC))
    ids = list(session.scalars(query))  # ids only: the events themselves are loaded one at a time
    missing = sorted(set(event_ids) - set(ids))
    for event_id in missing:
        click.echo(f"{event_id}: not stored", err=True)
    failures = [event_id for event_id in ids if not process_webhook(event_id, force=True)]
    for event_id in failures:
        click.echo(f"{event_id}: failed: {session.get(StripeWebhook, event_id).parse_error}", err=True)  # type: ignore[union-attr]
    click.echo(f"Replayed {len(ids)} event(s): {len(ids) - len(failures)} processed, {len(failures)} failed.")
    if failures or missing:
        raise SystemExit(1)

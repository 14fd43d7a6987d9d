"""``flask stripe replay-webhooks`` and ``flask stripe check-pending-webhooks``."""

from __future__ import annotations

import datetime as dt
import socket

import click
import sqlalchemy as sa

from ..core.mail import mail_admins
from ..core.state import get_state
from ..models import StripeWebhook, WebhookStatus, utcnow
from ..webhooks.dispatch import process_webhook
from ..webhooks.pending import fetch_event, pending_events, pending_report
from .support import billing_command

#: An event stored but still not processed after this long was lost on its way to the processor.
STALE_AFTER = dt.timedelta(minutes=5)


@click.command("replay-webhooks")
@click.option("--failed", is_flag=True, help="Only events that failed, or were stored but never processed.")
@click.option("--id", "event_ids", multiple=True, metavar="EVT", help="Only this event (repeatable).")
@click.option("--since", type=click.DateTime(), help="Only events Stripe created at or after this UTC time.")
@billing_command
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


@click.command("check-pending-webhooks")
@click.option("--site", default=None, help="The site's name in the report (default: this host's name).")
@click.option("--fetch", is_flag=True, help="Store and process the events this endpoint missed.")
@click.option(
    "--lookback-hours",
    type=click.IntRange(min=1, max=720),
    default=72,
    show_default=True,
    help="How far back to look when no event is stored yet.",
)
@billing_command
def check_pending_webhooks_command(site: str | None, fetch: bool, lookback_hours: int) -> None:
    """Report Stripe events that never reached this endpoint; above STRIPE_PENDING_WEBHOOKS_THRESHOLD, e-mail
    STRIPE_ADMINS and exit 1."""
    state = get_state()
    site = site or socket.getfqdn()
    events = list(pending_events(dt.timedelta(hours=lookback_hours)))
    ids = [event["id"] for event in events]
    click.echo(f"{len(ids)} pending event(s) for {site}" + (": " + ", ".join(ids) if ids else "."))
    failed = 0
    if fetch:
        failed = sum(not fetch_event(event) for event in events)
        click.echo(f"Fetched {len(events)} event(s): {len(events) - failed} processed, {failed} failed.")
    threshold = state.config.pending_webhooks_threshold
    if len(ids) > threshold:
        body = pending_report(site, state.config.env_prefix, threshold, ids)
        subject = f"{len(ids)} Stripe events pending for {site}"
        if mail_admins(state.config, subject, body):
            click.echo(f"E-mailed {', '.join(state.config.admins)}.")
        else:
            click.echo("STRIPE_ADMINS is empty: nobody was e-mailed.", err=True)
        click.echo(f"More than {threshold} event(s) pending (STRIPE_PENDING_WEBHOOKS_THRESHOLD).", err=True)
        raise SystemExit(1)
    if failed:
        raise SystemExit(1)

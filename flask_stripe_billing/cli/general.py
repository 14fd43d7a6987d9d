"""``flask stripe status``, ``purge-idempotency-keys`` and ``refresh-customers``."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from ..config import DEFAULT_API_BASE, BillingConfig
from ..core.batch import progress
from ..core.state import get_state
from ..customers.refresh import refresh_all_customers
from ..errors import StripeRequestError
from ..models.customer import StripeCustomer
from ..models.keys import purge_idempotency_keys
from .support import billing_command


def describe_stripe(config: BillingConfig) -> str:
    """Which Stripe *config* talks to, in words: ``offline Stripe at http://127.0.0.1:12111``, ``Stripe``, or
    the address of some other server."""
    if config.offline:
        return f"offline Stripe at {config.api_base}"
    if config.api_base == DEFAULT_API_BASE:
        return f"Stripe ({'live' if config.livemode else 'test'} mode)"
    return f"{config.api_base} in place of Stripe (STRIPE_API_BASE)"


@click.command("status")
@billing_command
def status_command() -> None:
    """Show which Stripe this application talks to, and check that it answers."""
    state = get_state()
    config = state.config
    click.echo(f"Talks to:     {describe_stripe(config)}")
    click.echo(f"API base:     {config.api_base}")
    click.echo(f"API version:  {config.api_version}")
    click.echo(f"Mode:         {'live' if config.livemode else 'test'}")
    click.echo(
        f"Webhook URL:  {config.url_prefix}{config.webhook_url} "
        f"({len(config.webhook_secrets)} signing secret(s){'' if config.webhook_secrets else ': refuses every event'})"
    )
    try:
        state.gateway.request("get", "/v1/customers", {"limit": 1})
    except StripeRequestError as exc:
        click.echo(f"Stripe:       unreachable or refusing: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo("Stripe:       reachable")


@click.command("purge-idempotency-keys")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=1),
    default=None,
    help="Age above which records are deleted (default: STRIPE_IDEMPOTENCY_KEY_MAX_AGE_HOURS).",
)
@billing_command
def purge_idempotency_keys_command(older_than_hours: int | None) -> None:
    """Delete idempotency-key records that Stripe no longer remembers."""
    state = get_state()
    hours = older_than_hours or state.config.idempotency_key_max_age_hours
    deleted = purge_idempotency_keys(state.db, dt.timedelta(hours=hours))
    click.echo(f"Deleted {deleted} idempotency key record(s) older than {hours} hour(s).")


@click.command("refresh-customers")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, help="Customers loaded at a time.")
@billing_command
def refresh_customers_command(batch_size: int) -> None:
    """Bring the cards and default card of every local customer up to date from Stripe."""
    state = get_state()
    total = state.db.session.scalar(
        sa.select(sa.func.count()).select_from(StripeCustomer).where(StripeCustomer.stripe_customer_id.is_not(None))
    )
    with progress(total or 0, "Refreshing customers") as update:
        summary = refresh_all_customers(batch_size=batch_size, on_progress=update)
    click.echo(
        f"Refreshed {summary.total} customer(s): {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.missing} missing at Stripe, {summary.errors} error(s)."
    )
    if summary.failures:
        summary.failures.report("refresh-customers")
        raise SystemExit(1)

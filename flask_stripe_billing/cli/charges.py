"""``flask stripe charge``: the thin face of :func:`flask_stripe_billing.charges.runner.run_charges`."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from ..charges.claims import CLAIM_LEASE
from ..charges.runner import charge_run_line, chargeable, run_charges
from ..core.batch import progress
from ..core.state import get_state
from ..models.base import utcnow
from ..models.charge import StripeCharge
from ..web.pages.formatting import money
from .support import billing_command


def dry_run_rows() -> list[StripeCharge]:
    """The charges a run would take now (nothing is claimed)."""
    session = get_state().db.session
    return list(session.scalars(sa.select(StripeCharge).where(chargeable(utcnow())).order_by(StripeCharge.id)))


def subscriber_names(subscriber_ids: set[object]) -> dict[object, str]:
    """Who each subscriber is, for people reading a listing: its ``email`` (else ``str()``) and its id."""
    state = get_state()
    model = state.subscriber_model
    key = sa.inspect(model).primary_key[0]
    names: dict[object, str] = {}
    wanted = sorted((i for i in subscriber_ids if i is not None), key=str)
    for start in range(0, len(wanted), 500):
        for subscriber in state.db.session.scalars(sa.select(model).where(key.in_(wanted[start : start + 500]))):
            identity = getattr(subscriber, key.key)
            names[identity] = f"{getattr(subscriber, 'email', None) or subscriber} (subscriber {identity})"
    return names


def dry_run_line(row: StripeCharge, names: dict[object, str]) -> str:
    """One charge of ``flask stripe charge --dry-run``: ``charge 2: $10.00 from ann@example.com (subscriber 3),
    pending``."""
    if row.subscriber_id is None:
        who = "no subscriber"
    else:
        who = names.get(row.subscriber_id, f"subscriber {row.subscriber_id} (not found)")
    replays = f"; replays key {row.idempotency_key}" if row.idempotency_key and row.status != "pending" else ""
    return f"charge {row.id}: {money(row.amount, row.currency)} from {who}, {row.status}{replays}"


@click.command("charge")
@click.option("--dry-run", is_flag=True, help="List the charges a run would take, and charge nothing.")
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Threads sending requests (default: from STRIPE_REQUESTS_PER_SECOND, at most 8).",
)
@click.option(
    "--claim-timeout",
    type=click.IntRange(min=1),
    default=int(CLAIM_LEASE.total_seconds()),
    show_default=True,
    help="Seconds a claimed charge stays reserved for this run; after that (a killed run) another run takes it.",
)
@billing_command
def charge_command(dry_run: bool, workers: int | None, claim_timeout: int) -> None:
    """Charge every pending charge (not manual, not declined, not charged) and those whose outcome is unknown.

    Safe when runs overlap: each charge is claimed by exactly one run.  Exits 1 if any charge hit an error
    (declines and charges needing customer action are reported, not errors).
    """
    if dry_run:
        rows = dry_run_rows()
        names = subscriber_names({row.subscriber_id for row in rows})
        for row in rows:
            click.echo(dry_run_line(row, names))
        click.echo(f"Would charge {len(rows)} charge(s).")
        return
    session = get_state().db.session
    total = session.scalar(sa.select(sa.func.count()).select_from(StripeCharge).where(chargeable(utcnow()))) or 0
    with progress(total, "Charging") as update:
        summary = run_charges(workers=workers, lease=dt.timedelta(seconds=claim_timeout), on_progress=update)
    summary.failures.report("charge")
    click.echo(charge_run_line(summary))
    if summary.failures:
        raise SystemExit(1)

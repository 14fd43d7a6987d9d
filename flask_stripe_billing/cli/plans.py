"""``flask stripe refresh-plans``, for cron or after editing prices in the Stripe Dashboard."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from ..core.batch import Failures
from ..errors import StripeRequestError
from ..plans import refresh_plans
from .support import billing_command


@click.command("refresh-plans")
@click.option(
    "--page-size",
    type=click.IntRange(1, 100),
    default=100,
    show_default=True,
    help="Prices asked of Stripe per request.",
)
@billing_command
def refresh_plans_command(page_size: int) -> None:
    """Import every active recurring price at Stripe as a plan, update the known ones, deactivate those whose
    price is archived or gone; exit 1 if any fails."""
    try:
        summary = refresh_plans(on_progress=_counter("Reading prices"), page_size=page_size)
    except StripeRequestError as exc:
        failures = Failures()
        failures.add("price list", exc)
        failures.report("refresh-plans")
        raise SystemExit(1) from None
    if sys.stdout.isatty():
        click.echo()  # end the counter's line
    click.echo(
        f"Plans: {summary.created} created, {summary.updated} updated, {summary.deactivated} deactivated, "
        f"{summary.unchanged} unchanged; {summary.skipped} price(s) skipped (one-time or tiered); "
        f"{summary.errors} failed."
    )
    summary.failures.report("refresh-plans")
    if summary.failures:
        raise SystemExit(1)


def _counter(label: str) -> Callable[[int], None]:
    """``update(n)``: a count of the prices read so far on a terminal (their number is not known in advance), a
    no-op elsewhere (cron, CI, pipes)."""
    if not sys.stdout.isatty():
        return lambda n: None
    seen = 0

    def update(n: int) -> None:
        nonlocal seen
        seen += n
        click.echo(f"\r{label}: {seen}", nl=False)

    return update

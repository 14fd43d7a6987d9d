"""``flask stripe end-subscriptions`` and ``flask stripe refresh-coupons``, for cron."""

from __future__ import annotations

import click

from ..core.batch import Failures, progress
from ..coupons.from_stripe import refresh_coupons
from ..errors import StripeRequestError
from ..subscriptions.expiry import end_subscriptions, get_subscriptions_for_cancel
from .support import billing_command


@click.command("end-subscriptions")
@click.option("--now", "immediately", is_flag=True, help="End them now instead of at the end of the paid period.")
@billing_command
def end_subscriptions_command(immediately: bool) -> None:
    """Cancel at Stripe every subscription past its end date that still runs; exit 1 if any fails."""
    with progress(len(get_subscriptions_for_cancel()), "Ending subscriptions") as update:
        summary = end_subscriptions(at_period_end=not immediately, on_progress=update)
    summary.failures.report("end-subscriptions")
    when = "now" if immediately else "at period end"
    click.echo(f"Ended {summary.ended} of {summary.total} subscription(s) {when}; {summary.errors} failed.")
    if summary.failures:
        raise SystemExit(1)


@click.command("refresh-coupons")
@billing_command
def refresh_coupons_command() -> None:
    """Reconcile local coupons with Stripe's: add new ones, update changed ones, mark removed ones deleted."""
    try:
        summary = refresh_coupons()
    except StripeRequestError as exc:
        failures = Failures()
        failures.add("coupon list", exc)
        failures.report("refresh-coupons")
        raise SystemExit(1) from None
    click.echo(
        f"Coupons: {summary.created} created, {summary.updated} updated, {summary.deleted} deleted, "
        f"{summary.unchanged} unchanged; {summary.errors} failed."
    )
    summary.failures.report("refresh-coupons")
    if summary.failures:
        raise SystemExit(1)

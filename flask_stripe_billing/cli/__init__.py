"""The ``flask stripe`` command group, added to ``app.cli`` by ``init_app``.

Every command is a thin face over a domain's batch function (progress, a summary line, exit status 1 when
anything failed); the work and its overlap safety live in the domain.
"""

from __future__ import annotations

from flask.cli import AppGroup

from .charges import charge_command
from .general import purge_idempotency_keys_command, refresh_customers_command, status_command
from .plans import refresh_plans_command
from .subscriptions import end_subscriptions_command, refresh_coupons_command
from .webhooks import check_pending_webhooks_command, replay_webhooks_command

stripe_cli = AppGroup("stripe", help="Stripe billing: charges, subscriptions, webhooks and upkeep.")

for command in (
    status_command,
    charge_command,
    end_subscriptions_command,
    refresh_customers_command,
    refresh_coupons_command,
    refresh_plans_command,
    replay_webhooks_command,
    check_pending_webhooks_command,
    purge_idempotency_keys_command,
):
    stripe_cli.add_command(command)

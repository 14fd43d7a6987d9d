"""The offline Stripe's trials as Stripe runs them (patched into localstripe in the server process).

localstripe takes ``trial_end`` and ``trial_period_days`` but leaves such a subscription ``incomplete`` and never
ends the trial.  Here a subscription created with a trial that ends in the future (``trial_end``, or
``trial_period_days`` from now) is ``trialing``: ``trial_start`` and ``trial_end`` are set, its current period
is the trial, a paid invoice of 0 is made for it (``billing_reason`` ``subscription_create``), and
``trial_settings[end_behavior][missing_payment_method]`` (``create_invoice``, the default, ``pause`` or
``cancel``) is kept.  An update may move ``trial_end`` or change ``trial_settings``.

The trial ends once ``trial_end`` has passed (checked every :data:`CHECK_INTERVAL` seconds) or at an update with
``trial_end=now``.  The first period starts then and is invoiced and charged (``past_due`` if the payment fails).
Without a payment method the subscription is canceled (``cancel``), ``paused`` (``pause``, with
``customer.subscription.paused``), or invoiced, the invoice left open and the subscription ``past_due``
(``create_invoice``).  ``customer.subscription.trial_will_end`` is sent once, three days before the end, at once
for a shorter trial, and when a trial is ended early.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from .api import check_params, refresh_event, send_event, stored, stripe_error

#: How often (seconds) the server looks for trials that have ended.
CHECK_INTERVAL = 1.0
#: How long before a trial ends ``customer.subscription.trial_will_end`` is sent.
NOTICE = 3 * 24 * 3600
MISSING_PAYMENT_METHOD = ("cancel", "create_invoice", "pause")
DEFAULT_SETTINGS = {"end_behavior": {"missing_payment_method": "create_invoice"}}


def trial_settings(resources: Any, value: Any) -> dict[str, Any]:
    """The ``trial_settings`` parameter *value*, checked, in Stripe's shape."""
    if value in (None, ""):
        return {"end_behavior": dict(DEFAULT_SETTINGS["end_behavior"])}
    name = "trial_settings[end_behavior]"
    if not isinstance(value, dict) or not isinstance(value.get("end_behavior"), dict):
        raise stripe_error(resources, f"Missing required param: {name}.", name, "parameter_missing")
    check_params(resources, value, ("end_behavior",), "trial_settings")
    check_params(resources, value["end_behavior"], ("missing_payment_method",), name)
    missing = value["end_behavior"].get("missing_payment_method")
    if missing not in MISSING_PAYMENT_METHOD:
        message = f"Invalid {name}[missing_payment_method]: must be one of cancel, create_invoice, or pause"
        raise stripe_error(resources, message, f"{name}[missing_payment_method]")
    return {"end_behavior": {"missing_payment_method": missing}}


def _notice(resources: Any, subscription: Any, now: int, *, ending: bool = False) -> None:
    """Send ``customer.subscription.trial_will_end`` once, when the trial is near its end or *ending* early."""
    if subscription.status != "trialing" or getattr(subscription, "_offline_trial_noticed", False):
        return
    if ending or int(subscription.trial_end) - now <= NOTICE:
        subscription._offline_trial_noticed = True
        send_event(resources, "customer.subscription.trial_will_end", subscription)


def begin_trial(resources: Any, subscription: Any, now: int) -> None:
    """Put *subscription*, just made, on the trial it asks for (or bill it at once when there is none)."""
    days = subscription.trial_period_days
    end = subscription.trial_end if subscription.trial_end is not None else now + days * 86400 if days else None
    if end is None or int(end) <= now:
        if subscription.status == "incomplete" and subscription.latest_invoice is None:
            subscription._create_invoice()  # localstripe bills nothing whenever a trial is asked for
            refresh_event(resources, "customer.subscription.created", subscription)
        return
    subscription.status, subscription.trial_start, subscription.trial_end = "trialing", now, int(end)
    item = subscription.items._list[0]
    invoice = resources.Invoice(customer=subscription.customer, subscription=subscription.id, items=[item], date=now)
    line = invoice.lines._list[0]
    line.amount, line.description = 0, f"Trial period for {item.plan.name}"
    invoice.billing_reason = "subscription_create"
    invoice._finalize()
    if invoice.status == "paid":
        invoice.status_transitions["paid_at"] = now
        send_event(resources, "invoice.payment_succeeded", invoice)
    else:  # the customer's pending invoice items came with it
        with contextlib.suppress(resources.UserError):
            resources.Invoice._api_pay_invoice(invoice.id)
        subscription.status = "trialing"
    refresh_event(resources, "invoice.created", invoice)
    refresh_event(resources, "customer.subscription.created", subscription)
    _notice(resources, subscription, now)


def end_trial(resources: Any, subscription: Any, now: int) -> None:
    """End *subscription*'s trial at *now*: bill its first period, or follow its ``trial_settings`` when the
    customer has no payment method."""
    _notice(resources, subscription, now, ending=True)
    subscription.trial_end = min(int(subscription.trial_end), now)
    subscription.start_date = subscription.trial_end  # the first billing period starts when the trial ends
    settings = getattr(subscription, "trial_settings", None) or DEFAULT_SETTINGS
    missing = settings["end_behavior"]["missing_payment_method"]
    customer = resources.Customer._api_retrieve(subscription.customer)
    if customer._get_default_payment_method_or_source() is None and missing == "cancel":
        subscription.canceled_at = now
        resources.Subscription._api_delete(subscription.id)  # sends customer.subscription.deleted
        return
    if customer._get_default_payment_method_or_source() is None and missing == "pause":
        subscription.status = "paused"
        send_event(resources, "customer.subscription.paused", subscription)
    else:
        subscription.status = "active"
        try:
            subscription._create_invoice()
        except resources.UserError:  # no payment method: the invoice stays open
            subscription.status = "past_due"
        invoice = resources.store.get(f"invoice:{subscription.latest_invoice}")
        if invoice is not None:
            invoice.billing_reason = "subscription_cycle"
    send_event(resources, "customer.subscription.updated", subscription, {"status": "trialing"})


def end_trials(resources: Any, now: int) -> None:
    """End the trials that are over at *now* and send the notices that are due."""
    for subscription in stored(resources, "subscription"):
        if subscription.status == "trialing" and int(subscription.trial_end) <= now:
            end_trial(resources, subscription, now)
        elif subscription.status == "trialing":
            _notice(resources, subscription, now)


def _install_subscriptions(resources: Any) -> None:  # pragma: no cover - child process
    subscription_class, item_class = resources.Subscription, resources.SubscriptionItem
    subscription_init, subscription_update = subscription_class.__init__, subscription_class._update
    item_period = item_class._current_period

    def __init__(self: Any, *args: Any, trial_settings: Any = None, **kwargs: Any) -> None:
        settings = _settings(trial_settings)
        subscription_init(self, *args, **kwargs)
        self.trial_settings = settings
        begin_trial(resources, self, int(time.time()))

    def _update(self: Any, *args: Any, trial_settings: Any = None, **data: Any) -> None:
        settings = None if trial_settings is None else _settings(trial_settings)
        subscription_update(self, *args, **data)
        if settings is not None:
            self.trial_settings = settings
        now = int(time.time())
        if self.status == "trialing" and int(self.trial_end) <= now:
            end_trial(resources, self, now)
        elif self.status == "trialing":
            if int(self.trial_end) - now > NOTICE:  # moved further away: noticed again when near
                self._offline_trial_noticed = False
            _notice(resources, self, now)

    def _current_period(self: Any) -> dict[str, int]:
        subscription = resources.store.get(f"subscription:{self._subscription}") if self._subscription else None
        if (
            subscription is not None
            and subscription.status == "trialing"
            and getattr(subscription, "trial_start", None)
        ):
            return {"start": int(subscription.trial_start), "end": int(subscription.trial_end)}
        return item_period(self)  # type: ignore[no-any-return]

    def _settings(value: Any) -> dict[str, Any]:
        return trial_settings(resources, value)

    subscription_class.__init__ = __init__
    subscription_class._update = _update
    item_class._current_period = _current_period


def _check_in_time(resources: Any) -> None:  # pragma: no cover - child process
    """End trials in the server's event loop as their time comes."""
    from localstripe import server

    tasks: list[asyncio.Task[None]] = []

    async def check() -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            try:
                end_trials(resources, int(time.time()))
            except Exception as exc:  # keep checking: one broken subscription must not stop the others
                print(f"The offline Stripe could not end a trial: {exc!r}", file=sys.stderr, flush=True)

    async def on_startup(app: Any) -> None:
        tasks.append(asyncio.ensure_future(check()))

    async def on_cleanup(app: Any) -> None:
        for task in tasks:
            task.cancel()

    server.app.on_startup.append(on_startup)
    server.app.on_cleanup.append(on_cleanup)


def install(resources: Any) -> None:  # pragma: no cover - child process
    """Run subscriptions' trials (see the module)."""
    _install_subscriptions(resources)
    _check_in_time(resources)

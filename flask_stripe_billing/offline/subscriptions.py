"""The offline Stripe's subscriptions as Stripe runs them (patched into localstripe in the server process).

localstripe refuses what the extension sends and Stripe takes: ``proration_behavior`` on a plan switch (it
answers 500), ``discounts`` and the legacy ``coupon`` (it answers "Unexpected ..."), and it sends no
``customer.subscription.updated``.  Here:

* **Plan switches** (``items[0][id]`` with ``plan`` and ``quantity``) keep the item's id and follow
  ``proration_behavior``: ``none`` changes the plan and bills the new amount from the next invoice;
  ``create_prorations`` (the default) adds the unused time of the old plan as a credit and the rest of the period
  on the new one as a charge, to the next invoice; ``always_invoice`` invoices those at once.  A switch to
  another billing interval restarts the period and is invoiced at once, as at Stripe.  Nothing is prorated or
  invoiced during a trial.
* **Discounts**: ``discounts=[{"coupon": id}]`` (or ``coupon=id``) on create or update puts a discount on the
  subscription (``discount`` and ``discounts``, expanded) and takes the coupon's ``percent_off`` or
  ``amount_off`` off its invoices for the coupon's ``duration``; a coupon past ``redeem_by`` or
  ``max_redemptions`` is refused as Stripe refuses it.  A discount from a promotion code (:mod:`.promotion_codes`)
  names it in ``promotion_code``.
* **Confirming the first invoice**: an open invoice whose PaymentIntent waits for 3-D Secure shows its
  ``confirmation_secret`` (``client_secret`` and ``type``), the current API's way to reach it (``payment_intent``
  stays, for older readers).  Once confirmed, the subscription is active.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PRORATION_BEHAVIORS = ("none", "create_prorations", "always_invoice")
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")


def install(resources: Any) -> None:  # pragma: no cover - child process
    """Patch localstripe's Subscription and Invoice classes (see the module)."""
    _install_create(resources)
    _install_update(resources)
    _install_invoice(resources)


def _refuse(resources: Any, message: str, status: int = 400) -> None:
    raise resources.UserError(status, message)


def _one_coupon(resources: Any, discounts: Any, coupon: Any) -> Any:
    """The localstripe Coupon named by ``discounts`` or ``coupon`` (``None`` when neither names one)."""
    if discounts not in (None, "") and coupon is not None:
        _refuse(resources, "You may pass discounts or coupon, not both.")
    if coupon is None and discounts not in (None, ""):
        if not isinstance(discounts, list) or len(discounts) > 1:
            _refuse(resources, "The offline Stripe takes at most one discount per subscription.")
        if discounts:
            entry = discounts[0]
            if not isinstance(entry, dict) or set(entry) != {"coupon"}:
                _refuse(resources, "Each discount must name a coupon: discounts[0][coupon].")
            coupon = entry["coupon"]
    if coupon in (None, ""):
        return None
    if not isinstance(coupon, str):
        _refuse(resources, "Invalid coupon: must be a string.")
    found = resources.store.get("coupon:" + coupon)
    if found is None:
        _refuse(resources, f"No such coupon: '{coupon}'", 404)
    redeem_by = getattr(found, "redeem_by", None)
    max_redemptions = getattr(found, "max_redemptions", None)
    if (
        not getattr(found, "valid", True)
        or (redeem_by is not None and int(redeem_by) <= time.time())
        or (max_redemptions is not None and found.times_redeemed >= int(max_redemptions))
    ):
        _refuse(resources, f"Coupon {coupon} is no longer valid.")
    return found


def _discount(subscription: Any, coupon: Any, start: int) -> dict[str, Any]:
    """Stripe's ``discount`` object for *coupon* on *subscription*, from *start*."""
    months = coupon.duration_in_months if coupon.duration == "repeating" else None
    return {
        "id": "di_" + subscription.id[4:],
        "object": "discount",
        "coupon": coupon._export(),
        "customer": subscription.customer,
        "subscription": subscription.id,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": getattr(subscription, "_offline_promotion_code", None),  # set by .promotion_codes
        "checkout_session": None,
        "start": start,
        "end": start + months * 2629800 if months else None,  # 2629800 s: a month on average
    }


def _put_discount(subscription: Any, coupon: Any) -> None:
    """Give *subscription* a discount for *coupon*, counted as a redemption (``None``: take it off)."""
    subscription._offline_coupon = coupon
    subscription._offline_discounted_invoices = 0
    subscription._offline_discount_started = int(time.time())
    _show_discount(subscription)
    if coupon is not None:
        coupon.times_redeemed += 1


def _show_discount(subscription: Any) -> dict[str, Any] | None:
    """Set (and return) *subscription*'s ``discount`` and ``discounts`` from its coupon."""
    coupon = subscription._offline_coupon
    discount = _discount(subscription, coupon, subscription._offline_discount_started) if coupon else None
    subscription.discount, subscription.discounts = discount, [discount] if discount else []
    return discount


def _install_create(resources: Any) -> None:  # pragma: no cover - child process
    subscription_class = resources.Subscription
    original = subscription_class.__init__

    def __init__(
        self: Any,
        *args: Any,
        discounts: Any = None,
        coupon: Any = None,
        payment_behavior: Any = "allow_incomplete",
        **kwargs: Any,
    ) -> None:
        if payment_behavior not in PAYMENT_BEHAVIORS:
            _refuse(resources, f"Invalid payment_behavior: must be one of {', '.join(PAYMENT_BEHAVIORS)}.")
        found = _one_coupon(resources, discounts, coupon)
        # Known before localstripe makes (and pays) the first invoice, which reads it; localstripe sets
        # `discount` to None on the way, so it is shown again after.
        self._offline_coupon, self._offline_discounted_invoices = found, 0
        self._offline_discount_started = int(time.time())
        behavior = "error_if_incomplete" if payment_behavior == "error_if_incomplete" else "allow_incomplete"
        original(self, *args, payment_behavior=behavior, **kwargs)
        _show_discount(self)
        if found is not None:
            found.times_redeemed += 1

    subscription_class.__init__ = __init__

    def _on_initial_payment_success(self: Any, invoice: Any) -> None:
        was = self.status
        self.status = "active"
        if was != "active":
            resources.schedule_webhook(resources.Event("customer.subscription.updated", self))

    subscription_class._on_initial_payment_success = _on_initial_payment_success


def _switch_of(resources: Any, subscription: Any, items: Any) -> tuple[Any, int] | None:
    """``(plan, quantity)`` that *items* switch *subscription* to, or ``None``; refused when malformed."""
    if items is None:
        return None
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        _refuse(resources, "The offline Stripe takes exactly one item per subscription: items[0].")
    item, current = items[0], subscription.items._list[0]
    unknown = set(item) - {"id", "plan", "price", "quantity", "metadata", "tax_rates"}
    if unknown:
        _refuse(resources, f"Received unknown parameter: items[0][{sorted(unknown)[0]}]")
    if item.get("id") not in (None, current.id):
        _refuse(resources, f"No such subscription item: '{item.get('id')}'", 404)
    plan_id = item.get("plan") or item.get("price") or current.plan.id
    if not isinstance(plan_id, str):
        _refuse(resources, "Invalid items[0][plan]: must be a string.")
    plan = resources.store.get("plan:" + plan_id)
    if plan is None:
        _refuse(resources, f"No such plan: '{plan_id}'", 404)
    quantity = resources.try_convert_to_int(item.get("quantity", current.quantity))
    if type(quantity) is not int or quantity < 1:
        _refuse(resources, "Invalid items[0][quantity]: must be a positive integer.")
    if isinstance(item.get("metadata"), dict):
        current.metadata = item["metadata"]
    return plan, quantity


def _install_update(resources: Any) -> None:  # pragma: no cover - child process
    subscription_class = resources.Subscription
    original = subscription_class._update

    def _update(
        self: Any,
        items: Any = None,
        proration_behavior: Any = None,
        payment_behavior: Any = None,
        discounts: Any = None,
        coupon: Any = None,
        **data: Any,
    ) -> None:
        if proration_behavior is not None and proration_behavior not in PRORATION_BEHAVIORS:
            _refuse(resources, f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}.")
        if payment_behavior is not None and payment_behavior not in PAYMENT_BEHAVIORS:
            _refuse(resources, f"Invalid payment_behavior: must be one of {', '.join(PAYMENT_BEHAVIORS)}.")
        if self.status in ("canceled", "incomplete_expired"):
            _refuse(resources, "A canceled subscription can only update its cancellation_details and metadata.")
        switch = _switch_of(resources, self, items)
        found = _one_coupon(resources, discounts, coupon) if (discounts, coupon) != (None, None) else None
        original(self, **data)
        if discounts is not None or coupon is not None:
            _put_discount(self, found)
        if switch is not None:
            _switch(resources, self, *switch, proration_behavior or "create_prorations")
        resources.schedule_webhook(resources.Event("customer.subscription.updated", self))

    subscription_class._update = _update


def _name(plan: Any) -> str:
    return str(plan.nickname or plan.id)


def _switch(resources: Any, subscription: Any, plan: Any, quantity: int, behavior: str) -> None:
    """Move *subscription*'s item to *quantity* of *plan*, prorating and invoicing by *behavior*."""
    item = subscription.items._list[0]
    old_plan, old_quantity = item.plan, item.quantity
    if (old_plan.id, old_quantity) == (plan.id, quantity):
        return
    now = int(time.time())
    start, end = subscription.current_period_start, subscription.current_period_end
    new_interval = (old_plan.interval, old_plan.interval_count) != (plan.interval, plan.interval_count)
    billed = subscription.status in ("active", "past_due") and not (subscription.trial_end or 0) > now
    item.plan, item.quantity = plan, quantity
    subscription.quantity = quantity
    if not billed:
        return
    if behavior != "none":
        left = Decimal(max(0, end - now)) / Decimal(max(1, end - start))
        day = time.strftime("%d %b %Y", time.gmtime(now))

        def prorated(amount: int) -> int:
            return int((Decimal(amount) * left).quantize(Decimal(1), rounding=ROUND_HALF_UP))

        lines = [(-prorated(old_plan.amount * old_quantity), old_plan, f"Unused time on {_name(old_plan)} after {day}")]
        if not new_interval:
            lines.append((prorated(plan.amount * quantity), plan, f"Remaining time on {_name(plan)} after {day}"))
        for amount, line_plan, description in lines:
            if amount:
                resources.InvoiceItem(
                    amount=amount,
                    currency=line_plan.currency,
                    customer=subscription.customer,
                    subscription=subscription.id,
                    plan=line_plan.id,
                    proration=True,
                    description=description,
                    period_start=now,
                    period_end=end,
                )
    if new_interval:
        subscription.start_date = now  # the billing cycle restarts on the new interval
        subscription._create_invoice()
    elif behavior == "always_invoice":
        invoice = resources.Invoice(customer=subscription.customer, subscription=subscription.id, items=[], date=now)
        invoice.billing_reason = "subscription_update"
        invoice._finalize()
        if invoice.status != "paid":
            resources.Invoice._api_pay_invoice(invoice.id)


def _install_invoice(resources: Any) -> None:  # pragma: no cover - child process
    invoice_class = resources.Invoice
    original = invoice_class.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._offline_discount, self.discounts = None, []
        subscription = resources.store.get("subscription:" + str(self.subscription)) if self.subscription else None
        coupon = getattr(subscription, "_offline_coupon", None)
        if subscription is None or coupon is None or kwargs.get("upcoming") or kwargs.get("simulation"):
            return
        used = subscription._offline_discounted_invoices
        if coupon.duration == "once" and used:
            return
        discount = _show_discount(subscription)
        assert discount is not None
        if coupon.duration == "repeating" and discount["end"] and time.time() > discount["end"]:
            return
        subscription._offline_discounted_invoices = used + 1
        self._offline_discount = coupon
        self.discount, self.discounts = discount, [discount["id"]]

    invoice_class.__init__ = __init__

    def discount_amount(self: Any) -> int:
        coupon = getattr(self, "_offline_discount", None)
        subtotal = max(0, int(self.subtotal))
        if coupon is None or not subtotal:
            return 0
        if coupon.percent_off is not None:
            off = Decimal(subtotal) * Decimal(str(coupon.percent_off)) / 100
            return int(off.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if (coupon.currency or "").lower() == (self.currency or "").lower():
            return min(int(coupon.amount_off), int(subtotal))
        return 0

    def total(self: Any) -> int:
        return max(0, int(self.subtotal) - discount_amount(self) + int(self.tax) - int(self.starting_balance))

    def total_discount_amounts(self: Any) -> list[dict[str, Any]]:
        amount = discount_amount(self)
        return [{"amount": amount, "discount": self.discounts[0]}] if amount else []

    def confirmation_secret(self: Any) -> dict[str, str] | None:
        if not self.payment_intent or self.status != "open":
            return None
        intent = resources.PaymentIntent._api_retrieve(self.payment_intent)
        return {"client_secret": intent.client_secret, "type": "payment_intent"}

    invoice_class.total = property(total)
    invoice_class.total_discount_amounts = property(total_discount_amounts)
    invoice_class.confirmation_secret = property(confirmation_secret)

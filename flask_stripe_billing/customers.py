"""Customers and cards: creating a subscriber's customer at Stripe, refreshing it, adding cards.

Every verb follows the same order: Stripe first, then a short commit, then signals.  No Stripe request is
sent while the session holds uncommitted writes, so no row lock is held across a network call.  Two card
flows are accepted wherever a card is added: a Stripe.js token (``tok_...``) and a payment method
(``pm_...``), typically confirmed through a SetupIntent.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from . import errors, signals
from .batch import Failures
from .models.base import subscriber_key
from .models.customer import StripeCustomer
from .shapes import expandable_id, list_data
from .state import get_state
from .sync import fetched_now, remember

#: The card fields kept in a source summary.
SUMMARY_FIELDS = ("brand", "last4", "exp_month", "exp_year")


def create_customer(subscriber: Any, token_or_payment_method: str) -> StripeCustomer:
    """Create a Stripe customer for *subscriber* with one card, and store it.

    The row and its idempotency key are committed before the request is sent, so a retry reuses the key.
    On success the subscriber's older active customers are deactivated and
    :data:`~flask_stripe_billing.signals.customer_created` is sent after the commit.

    :param token_or_payment_method: a Stripe.js token id (``tok_...``) or a payment method id (``pm_...``).
    :raises flask_stripe_billing.errors.StripeRequestError: when Stripe refuses; the row is then left with
        ``is_active=False``.
    """
    state = get_state()
    customer = StripeCustomer(
        subscriber_id=subscriber_key(subscriber),
        idempotency_key=state.gateway.new_idempotency_key("customer", "create"),
    )
    state.db.session.add(customer)
    state.db.session.commit()
    try:
        data = _create_at_stripe(customer, subscriber, token_or_payment_method)
    except errors.BillingError:
        customer.is_active = False
        state.db.session.commit()
        raise
    apply_stripe_customer(customer, data)
    customer.is_created_at_stripe = True
    _deactivate_older_customers(customer)
    state.db.session.commit()
    signals.send_committed(signals.customer_created, StripeCustomer, instance=customer)
    return customer


def refresh_customer(customer: StripeCustomer) -> StripeCustomer:
    """Bring ``sources`` and ``default_source`` of *customer* up to date from Stripe, and commit.

    A customer deleted at Stripe (a 404 ``resource_missing``, or ``deleted: true``) is marked inactive, not deleted.
    """
    state = get_state()
    if not customer.stripe_customer_id:
        raise ValueError(f"{customer!r} was not created at Stripe.")
    seen_at = fetched_now()
    apply_stripe_customer(customer, read_customer(customer.stripe_customer_id), seen_at)
    state.db.session.commit()
    return customer


def read_customer(stripe_customer_id: str) -> dict[str, Any]:
    """The customer as Stripe has it now, with its cards (see :func:`_fetch`).

    A customer Stripe no longer has (a 404 ``resource_missing``) comes back as ``{"id": ..., "deleted": True}``.
    This sends requests: never call it while the session holds uncommitted writes.
    """
    try:
        return _fetch(stripe_customer_id)
    except errors.InvalidRequestError as exc:
        if not exc.is_missing:
            raise
        return {"id": stripe_customer_id, "object": "customer", "deleted": True}


def add_new_source(customer: StripeCustomer, token_or_payment_method: str) -> StripeCustomer:
    """Add a card to *customer* at Stripe, make it the default, and store the refreshed customer.

    :raises flask_stripe_billing.errors.CardError: when the card is declined.
    """
    if not customer.stripe_customer_id:
        raise ValueError(f"{customer!r} was not created at Stripe.")
    _attach(customer.stripe_customer_id, token_or_payment_method)
    return refresh_customer(customer)


def set_default_source(customer: StripeCustomer, source_id: str) -> StripeCustomer:
    """Make *source_id*, one of ``customer.sources``, the default card at Stripe, and store it.

    :raises ValueError: when *source_id* is not one of the customer's cards.
    """
    if source_id not in customer.card_ids:
        raise ValueError(f"{source_id!r} is not a card of this customer.")
    assert customer.stripe_customer_id is not None
    get_state().gateway.request(
        "post",
        f"/v1/customers/{customer.stripe_customer_id}",
        _default_params(source_id),
        object_type="customer",
        action="update",
    )
    return refresh_customer(customer)


def apply_stripe_customer(
    customer: StripeCustomer, data: Mapping[str, Any], seen_at: dt.datetime | None = None
) -> None:
    """Copy what we keep of a Stripe customer object (id, cards, default card, raw object) onto the row.

    *seen_at* is when *data* was current at Stripe (an event's ``created``; default: fetched now), see
    :mod:`flask_stripe_billing.sync`; the caller decides whether *data* is newer than the row.  An object
    without a card list (current API versions leave ``sources`` out unless expanded) keeps the row's cards.
    A deleted customer (``"deleted": true``) only marks the row inactive: its last object and cards are kept
    as a record.
    """
    if data.get("deleted"):
        customer.is_active = False
        return
    customer.stripe_customer_id = expandable_id(data.get("id")) or customer.stripe_customer_id
    if has_card_list(data):
        customer.sources = summarize_sources(data) + _payment_methods_not_listed(customer, data)
    customer.default_source = default_source_id(data)
    remember(customer, data, seen_at)


def _payment_methods_not_listed(customer: StripeCustomer, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The row's payment-method cards, when *data* cannot say: a customer object as Stripe sends it (in an event)
    lists card sources only; its payment methods come from our own read (``payment_methods``, see :func:`_fetch`)."""
    if isinstance(data.get("payment_methods"), Mapping | list):
        return []
    return [card for card in customer.sources or () if isinstance(card, dict) and str(card.get("id")).startswith("pm_")]


def has_card_list(data: Mapping[str, Any]) -> bool:
    """Whether a Stripe customer object carries its cards (``sources``, or ``payment_methods`` we fetched)."""
    return any(isinstance(data.get(key), Mapping | list) for key in ("sources", "payment_methods"))


def summarize_sources(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Card summaries from a Stripe customer: its card sources, then the payment methods it carries.

    Reads ``sources.data`` (cards, and old ``source`` objects with a ``card`` hash) and, when present, a
    ``payment_methods`` list fetched alongside (see :func:`_fetch`).
    """
    summaries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in list_data(data.get("sources")) + list_data(data.get("payment_methods")):
        summary = summarize_card(item)
        if summary is not None and summary["id"] not in seen:
            seen.add(summary["id"])
            summaries.append(summary)
    return summaries


def summarize_card(item: Any) -> dict[str, Any] | None:
    """A summary (id, brand, last4, exp_month, exp_year) of a card, source or payment method; else ``None``."""
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    nested = item.get("card")
    card: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
    if item.get("object") not in (None, "card", "source", "payment_method") or not card.get("last4"):
        return None
    return {"id": item["id"], **{field: card.get(field) for field in SUMMARY_FIELDS}}


def default_source_id(data: Mapping[str, Any]) -> str | None:
    """The default card's id: ``invoice_settings.default_payment_method``, else ``default_source``."""
    settings = data.get("invoice_settings")
    default_payment_method = settings.get("default_payment_method") if isinstance(settings, Mapping) else None
    return expandable_id(default_payment_method) or expandable_id(data.get("default_source"))


def _create_at_stripe(customer: StripeCustomer, subscriber: Any, token_or_payment_method: str) -> dict[str, Any]:
    """POST the customer (with its stored key), attach the card, and return the customer as Stripe sees it."""
    gateway = get_state().gateway
    # The metadata lets a customer be linked back to its subscriber from the Stripe Dashboard or a later import.
    metadata = {"subscriber_id": str(customer.subscriber_id), "subscriber_type": type(subscriber).__name__}
    params: dict[str, Any] = {"metadata": metadata}
    email = getattr(subscriber, "email", None)
    if email:
        params["email"] = email
        metadata["subscriber_email"] = str(email)
    is_token = not token_or_payment_method.startswith("pm_")
    if not is_token:
        check_payment_method_is_free(token_or_payment_method, None)
    if is_token:
        params["source"] = token_or_payment_method
    created = gateway.request("post", "/v1/customers", params, idempotency_key=customer.idempotency_key)
    customer.stripe_customer_id = created["id"]
    if is_token:
        return _fetch(created["id"])
    _attach(created["id"], token_or_payment_method, owner_checked=True)
    return _fetch(created["id"])


def _attach(stripe_customer_id: str, token_or_payment_method: str, *, owner_checked: bool = False) -> None:
    """Attach a token's card or a payment method to a Stripe customer and make it the default."""
    gateway = get_state().gateway
    if token_or_payment_method.startswith("pm_"):
        if not owner_checked:
            check_payment_method_is_free(token_or_payment_method, stripe_customer_id)
        gateway.request(
            "post",
            f"/v1/payment_methods/{token_or_payment_method}/attach",
            {"customer": stripe_customer_id},
            object_type="payment_method",
            action="attach",
        )
        default = token_or_payment_method
    else:
        source = gateway.request(
            "post",
            f"/v1/customers/{stripe_customer_id}/sources",
            {"source": token_or_payment_method},
            object_type="source",
            action="create",
        )
        default = source["id"]
    gateway.request(
        "post",
        f"/v1/customers/{stripe_customer_id}",
        _default_params(default),
        object_type="customer",
        action="update",
    )


def check_payment_method_is_free(payment_method_id: str, stripe_customer_id: str | None) -> None:
    """Refuse a payment method already attached to another Stripe customer than *stripe_customer_id*.

    :raises flask_stripe_billing.errors.InvalidRequestError: when it belongs to someone else (or is unknown).
    """
    method = get_state().gateway.request("get", f"/v1/payment_methods/{payment_method_id}")
    owner = expandable_id(method.get("customer"))
    if owner and owner != stripe_customer_id:
        raise errors.InvalidRequestError(
            f"Payment method {payment_method_id} is attached to another customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
            http_status=400,
        )


def _default_params(source_id: str) -> dict[str, Any]:
    """Update parameters making *source_id* the default card (payment method or card source).

    A card source becomes the default only once the default payment method is unset (an empty string),
    since Stripe prefers ``invoice_settings.default_payment_method`` over ``default_source``.
    """
    if source_id.startswith("pm_"):
        return {"invoice_settings": {"default_payment_method": source_id}}
    return {"default_source": source_id, "invoice_settings": {"default_payment_method": ""}}


def _fetch(stripe_customer_id: str) -> dict[str, Any]:
    """The customer at Stripe, with its card payment methods under ``payment_methods``."""
    gateway = get_state().gateway
    data = gateway.request("get", f"/v1/customers/{stripe_customer_id}")
    if data.get("deleted"):
        return data
    if not isinstance(data.get("sources"), Mapping):
        data["sources"] = {"data": list(gateway.list_all(f"/v1/customers/{stripe_customer_id}/sources"))}
    data["payment_methods"] = {
        "data": list(gateway.list_all("/v1/payment_methods", {"customer": stripe_customer_id, "type": "card"}))
    }
    return data


def _deactivate_older_customers(customer: StripeCustomer) -> None:
    """Mark the subscriber's other active customers inactive (in the current transaction)."""
    get_state().db.session.execute(
        sa.update(StripeCustomer)
        .where(
            StripeCustomer.subscriber_id == customer.subscriber_id,
            StripeCustomer.id != customer.id,
            StripeCustomer.is_active.is_(True),
        )
        .values(is_active=False)
    )


@dataclass
class RefreshSummary:
    """What :func:`refresh_all_customers` did, by outcome."""

    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    #: The customers that could not be refreshed, and why (reported by ``flask stripe refresh-customers``).
    failures: Failures = field(default_factory=Failures)

    @property
    def errors(self) -> int:
        """How many customers could not be refreshed."""
        return len(self.failures)

    @property
    def total(self) -> int:
        """How many customers were looked at."""
        return self.updated + self.unchanged + self.missing + self.errors


#: Errors after which a refresh is tried again, after a pause.
TRANSIENT_ERRORS = (errors.RateLimitError, errors.OutcomeUnknownError)


def refresh_all_customers(
    *,
    batch_size: int = 100,
    max_attempts: int = 4,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[int], None] | None = None,
) -> RefreshSummary:
    """Refresh every local customer created at Stripe, *batch_size* rows in memory at a time.

    Requests share the gateway's rate limit; a 429 or a transient error is retried up to *max_attempts*
    times, waiting *backoff* seconds, doubled after each attempt.  A customer deleted at Stripe is marked
    inactive and counted as missing.  *on_progress* is called with the number of customers done after each.
    """
    session = get_state().db.session
    summary = RefreshSummary()
    last_id = 0
    while True:
        batch = list(
            session.scalars(
                sa.select(StripeCustomer)
                .where(StripeCustomer.id > last_id, StripeCustomer.stripe_customer_id.is_not(None))
                .order_by(StripeCustomer.id)
                .limit(batch_size)
            )
        )
        if not batch:
            return summary
        for customer in batch:
            _refresh_counted(customer, summary, max_attempts=max_attempts, backoff=backoff, sleep=sleep)
            if on_progress is not None:
                on_progress(1)
        last_id = batch[-1].id
        for customer in batch:
            session.expunge(customer)


def _refresh_counted(
    customer: StripeCustomer,
    summary: RefreshSummary,
    *,
    max_attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> None:
    """Refresh one customer, retrying transient errors, and count the outcome in *summary*."""
    before = (customer.is_active, customer.sources, customer.default_source)
    for attempt in range(max_attempts):
        try:
            refresh_customer(customer)
            break
        except TRANSIENT_ERRORS as exc:
            if attempt == max_attempts - 1:
                summary.failures.add(f"customer {customer.stripe_customer_id}", exc)
                return
            sleep(backoff * 2**attempt)
        except errors.StripeRequestError as exc:
            summary.failures.add(f"customer {customer.stripe_customer_id}", exc)
            return
    if before[0] and not customer.is_active:
        summary.missing += 1
    elif before != (customer.is_active, customer.sources, customer.default_source):
        summary.updated += 1
    else:
        summary.unchanged += 1

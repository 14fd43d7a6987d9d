"""Stripe customer -> row: cards, the default card and the e-mail, never an older view over a newer one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .. import errors
from ..core.shapes import expandable_id, list_data
from ..core.state import get_state
from ..models.customer import StripeCustomer
from ..models.freshness import remember

#: The card fields kept in a source summary.
SUMMARY_FIELDS = ("brand", "last4", "exp_month", "exp_year")


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


def apply_stripe_customer(
    customer: StripeCustomer, data: Mapping[str, Any], seen_at: dt.datetime | None = None
) -> None:
    """Copy what we keep of a Stripe customer object (id, cards, default card, raw object) onto the row.

    *seen_at* is when *data* was current at Stripe (an event's ``created``; default: fetched now), see
    :mod:`flask_stripe_billing.models.freshness`; the caller decides whether *data* is newer than the row.  An object
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


def _payment_methods_not_listed(customer: StripeCustomer, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The row's payment-method cards, when *data* cannot say: a customer object as Stripe sends it (in an event)
    lists card sources only; its payment methods come from our own read (``payment_methods``, see :func:`_fetch`)."""
    if isinstance(data.get("payment_methods"), Mapping | list):
        return []
    return [card for card in customer.sources or () if isinstance(card, dict) and str(card.get("id")).startswith("pm_")]


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

"""Objects for synthetic events, shaped like Stripe's published fixtures, in old and new API shapes.

localstripe sends only ``customer.created`` and ``customer.updated``; the other event types are built here from
the fixture objects (``fixtures3.json`` for the 2023 shapes, ``fixtures3.head.json`` for current ones) and sent
signed with :func:`flask_stripe_billing.testing.send_webhook`.

* ``"old"``: a customer carries its cards (``sources``, as API versions before 2020-08-27 and localstripe do)
  and its default card in ``default_source``; objects name their customer by id.
* ``"new"``: a customer carries no card list, its default card is ``invoice_settings.default_payment_method``,
  and the customer of a card or payment method comes expanded (an object with an ``id``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any, Literal

from tests.stripe_openapi.spec import read_json

Shape = Literal["old", "new"]
SHAPES: tuple[Shape, ...] = ("old", "new")


@functools.cache
def _fixtures(shape: Shape) -> Mapping[str, dict[str, Any]]:
    name = "fixtures3.json" if shape == "old" else "fixtures3.head.json"
    return read_json(name)["resources"]  # type: ignore[no-any-return]


def fixture(shape: Shape, name: str, **changes: Any) -> dict[str, Any]:
    """A copy of the fixture object *name* (``"customer"``, ``"card"``, ...) in *shape*, with *changes*."""
    return {**copy.deepcopy(_fixtures(shape)[name]), **changes}


def customer_ref(shape: Shape, stripe_customer_id: str) -> Any:
    """How a card or payment method names its customer: an id (old) or the expanded customer (new)."""
    return stripe_customer_id if shape == "old" else fixture(shape, "customer", id=stripe_customer_id)


def card(shape: Shape, card_id: str, stripe_customer_id: str | None, **changes: Any) -> dict[str, Any]:
    """A card source of a customer (the object of ``customer.source.*``)."""
    owner = customer_ref(shape, stripe_customer_id) if stripe_customer_id else None
    return fixture(shape, "card", id=card_id, customer=owner, **changes)


def payment_method(shape: Shape, pm_id: str, stripe_customer_id: str | None, **card_changes: Any) -> dict[str, Any]:
    """A card payment method (the object of ``payment_method.*``)."""
    owner = customer_ref(shape, stripe_customer_id) if stripe_customer_id else None
    method = fixture(shape, "payment_method", id=pm_id, customer=owner)
    method["card"] = {**method["card"], **card_changes}
    return method


def customer(
    shape: Shape, stripe_customer_id: str, cards: list[dict[str, Any]], default: str | None, **changes: Any
) -> dict[str, Any]:
    """A customer (the object of ``customer.updated``) with *cards* and the default card *default*.

    The new shape has no card list: *cards* only count in the old one.
    """
    data = fixture(shape, "customer", id=stripe_customer_id, **changes)
    data["discount"] = None
    if shape == "old":
        data["default_source"] = default
        data["sources"] = {
            "object": "list",
            "data": cards,
            "has_more": False,
            "total_count": len(cards),
            "url": f"/v1/customers/{stripe_customer_id}/sources",
        }
    else:
        data["default_source"] = None
        data["invoice_settings"] = {**data["invoice_settings"], "default_payment_method": default}
    return data


def deleted_customer(shape: Shape, stripe_customer_id: str) -> dict[str, Any]:
    """The object of ``customer.deleted``: the customer as it was (old), or the deleted stub (new)."""
    if shape == "old":
        return fixture(shape, "customer", id=stripe_customer_id)
    return fixture(shape, "deleted_customer", id=stripe_customer_id)

"""Reading Stripe objects defensively, whatever the API version.

Stripe's answers change shape between API versions and with ``expand``: a field holds an id or the whole
object, a list is a list object (``{"object": "list", "data": [...]}``) or, in what we build ourselves, a
plain list, and a field may be missing, ``null`` or of another type than the current version documents.
These helpers read such fields without raising, so that the code copying an object onto a row can say what
it wants in one expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def list_data(value: Any) -> list[Any]:
    """The items of a Stripe list object (``data``) or of a plain list; ``[]`` for anything else."""
    if isinstance(value, Mapping):
        value = value.get("data")
    return list(value) if isinstance(value, list) else []


def expandable_id(value: Any) -> str | None:
    """The id of a field that may come expanded (an object with ``id``) or not (a string); else ``None``."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def could_be_stripe_id(value: Any) -> bool:
    """Whether *value* could be a Stripe id: printable text of at most 255 characters (the id columns' size).

    Anything else (a NUL byte, which PostgreSQL refuses in text, a control character, a huge string) cannot
    name a stored object, so a lookup answers "not found" instead of failing in the database.
    """
    return isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()

"""In-memory Stripe objects shaped like Stripe's published fixtures.

The fixtures (``fixtures3.head.json``: current API shapes, with
``fixtures3.json`` filling the few names it lacks) give one sample per
component schema.  A new object is a copy of that sample with a fresh id,
``created`` set to now, and the posted scalar fields and metadata merged in.
"""

from __future__ import annotations

import copy
import functools
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

from .spec import StripeSpec, read_json, spec_dir

StripeObject: TypeAlias = dict[str, Any]

_SCALARS = (str, int, float, bool)
_READ_ONLY = frozenset({"id", "object", "created", "livemode"})
# Query parameters of list calls that are not equality filters on a field.
_NOT_FILTERS = frozenset({"limit", "starting_after", "ending_before", "expand", "created", "page", "query"})


@functools.cache
def load_fixtures(directory: Path | None = None) -> Mapping[str, StripeObject]:
    """Sample objects keyed by component schema name (``"customer"``, ``"checkout.session"``)."""
    folder = directory or spec_dir()
    resources: dict[str, StripeObject] = {}
    for name in ("fixtures3.json", "fixtures3.head.json"):  # the current shapes win
        resources.update(read_json(name, folder)["resources"])
    return resources


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


class ObjectStore:
    """Objects by id, plus the fixture-based defaults of the stub."""

    def __init__(self, spec: StripeSpec, fixtures: Mapping[str, StripeObject]) -> None:
        self.spec = spec
        self.fixtures = fixtures
        self.objects: dict[str, StripeObject] = {}  # insertion order = creation order
        self.lock = threading.RLock()

    def object_type(self, schema_name: str) -> str:
        """The ``object`` value of a schema's objects (``"checkout.session"``)."""
        return str(self.fixtures.get(schema_name, {}).get("object", schema_name))

    def type_of_id(self, object_id: str) -> str | None:
        """The object type whose fixture id has the prefix of ``object_id`` (``cus_x`` -> ``customer``)."""
        prefix = object_id.rsplit("_", 1)[0] + "_"
        types = {str(o["object"]) for o in self.fixtures.values() if str(o.get("id", "")).startswith(prefix)}
        return types.pop() if len(types) == 1 else None

    def sample(self, schema_name: str | None) -> StripeObject:
        """A fresh copy of the fixture for ``schema_name``."""
        if schema_name is None:
            return {}
        return copy.deepcopy(self.fixtures.get(schema_name, {"object": self.object_type(schema_name)}))

    def create(self, schema_name: str | None, params: Mapping[str, Any], *, keep: bool = True) -> StripeObject:
        """A new object from the fixture, merged with ``params``; stored if ``keep``."""
        obj = self.sample(schema_name)
        fixture_id = str(obj.get("id") or "obj_")
        posted_id = params.get("id")  # coupons, plans... may be given their id
        prefix = fixture_id.rsplit("_", 1)[0] + "_" if "_" in fixture_id else "obj_"
        obj["id"] = posted_id if isinstance(posted_id, str) and posted_id else new_id(prefix)
        obj["created"] = int(time.time())
        if "livemode" in obj:
            obj["livemode"] = False
        self._blank_nullable_samples(obj, schema_name)
        self.merge(obj, params)
        if keep:
            with self.lock:
                self.objects[obj["id"]] = obj
        return obj

    def _blank_nullable_samples(self, obj: StripeObject, schema_name: str | None) -> None:
        # A fixture shows optional sub-objects filled in (the sample customer has a discount); a new
        # object has them null unless posted, so those the spec marks nullable start as None.
        schema = self.spec.component(schema_name) if schema_name else None
        properties: Mapping[str, Any] = (schema or {}).get("properties", {})
        for name, value in obj.items():
            if isinstance(value, dict) and properties.get(name, {}).get("nullable") and name != "metadata":
                obj[name] = None

    @staticmethod
    def merge(obj: StripeObject, params: Mapping[str, Any]) -> StripeObject:
        """Merge posted scalars that are top-level fields, and metadata, the way Stripe does.

        An empty string unsets (``description=""`` -> ``None``, ``metadata[k]=""``
        drops ``k``, ``metadata=""`` drops all).
        """
        for key, value in params.items():
            if key == "metadata":
                obj["metadata"] = _merge_metadata(obj.get("metadata") or {}, value)
            elif key in obj and key not in _READ_ONLY and isinstance(value, _SCALARS):
                if value == "now" and isinstance(obj[key], int):  # trial_end=now and the like
                    value = int(time.time())
                obj[key] = None if value == "" else value
        return obj

    def get(self, object_id: str) -> StripeObject | None:
        with self.lock:
            return self.objects.get(object_id)

    def expand(self, obj: StripeObject, paths: Iterable[str]) -> StripeObject:
        """A copy of ``obj`` with the given ``expand`` paths replaced by stored objects."""
        result = copy.deepcopy(obj)
        for path in paths:
            self._expand_at(result, path.split("."))
        return result

    def _expand_at(self, node: Any, parts: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_at(item, parts)
            return
        if not isinstance(node, dict) or parts[0] not in node:
            return
        head, rest = parts[0], parts[1:]
        value = node[head]
        if isinstance(value, str) and value in self.objects:
            node[head] = value = copy.deepcopy(self.objects[value])
        elif isinstance(value, list):
            node[head] = value = [copy.deepcopy(self.objects.get(v, v)) if isinstance(v, str) else v for v in value]
        if rest:
            self._expand_at(value, rest)

    def page(self, kind: str, schema_name: str | None, params: Mapping[str, Any], url: str) -> StripeObject:
        """A ``list`` (or ``search_result``) of stored objects of a type, newest first."""
        object_type = self.object_type(schema_name) if schema_name else None
        fields = self.fixtures.get(schema_name or "", {})
        with self.lock:
            items = [o for o in reversed(self.objects.values()) if o.get("object") == object_type]
        for key, value in params.items():
            # Only filters on a plain field are applied (customer=, status=, price= on prices...).
            if key not in _NOT_FILTERS and key in fields and isinstance(value, _SCALARS) and value != "all":
                items = [o for o in items if o.get(key) == value]
        if kind == "search_result":
            return {"object": kind, "data": items, "has_more": False, "next_page": None, "url": url}
        limit = int(params.get("limit", 10))
        ids = [o.get("id") for o in items]
        if params.get("ending_before") in ids:  # the page just before the cursor, i.e. newer objects
            items = items[: ids.index(params["ending_before"])]
            return {"object": "list", "data": items[-limit:], "has_more": len(items) > limit, "url": url}
        if params.get("starting_after") in ids:
            items = items[ids.index(params["starting_after"]) + 1 :]
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


def _merge_metadata(current: Mapping[str, Any], posted: Any) -> dict[str, Any]:
    if not isinstance(posted, Mapping):
        return {}  # metadata="" clears every key
    merged = dict(current)
    for key, value in posted.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged

"""Turn decoded form strings into the JSON types the request schema expects.

A form carries only strings, so ``amount=2000`` must become ``2000`` before
it can be checked against ``type: integer``.  Values that do not parse are
left as strings on purpose: the validator then reports them with the
schema's own words (``'abc' is not of type 'integer'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .schemas import Schema, validator_for

_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_BOOLEANS = {"true": True, "false": False}


def coerce(value: Any, schema: Schema) -> Any:
    """Coerce a decoded form value (``str`` or nested ``dict``) to ``schema``."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return _coerce_any_of(value, branches)
    kind = schema.get("type")
    if kind == "array" or "items" in schema:
        return _coerce_array(value, schema)
    if kind == "object" or "properties" in schema:
        return _coerce_object(value, schema)
    if isinstance(value, str):
        return _coerce_scalar(value, kind)
    return value


def _coerce_any_of(value: Any, branches: list[Schema]) -> Any:
    # The first branch the coerced value satisfies wins (``metadata=""`` picks
    # the empty-string branch, ``metadata[k]=v`` the object branch).
    candidates = [coerce(value, branch) for branch in branches]
    for branch, candidate in zip(branches, candidates, strict=True):
        if validator_for(branch).is_valid(candidate):
            return candidate
    # Nothing fits: keep the coercion of the branch of the right shape so that
    # the validator's complaint is about the right thing.
    for branch, candidate in zip(branches, candidates, strict=True):
        if isinstance(value, dict) == _is_container(branch):
            return candidate
    return value


def _is_container(schema: Schema) -> bool:
    return schema.get("type") in ("object", "array") or "properties" in schema or "items" in schema


def _coerce_array(value: Any, schema: Schema) -> Any:
    # ``items[0][price]`` decodes to ``{"0": {...}}``: a list only if every key
    # is an index.  Order follows the indices, not the order on the wire.
    if not isinstance(value, dict) or not all(_INTEGER.fullmatch(key) for key in value):
        return value
    item_schema: Schema = schema.get("items") or {}
    return [coerce(value[key], item_schema) for key in sorted(value, key=int)]


def _coerce_object(value: Any, schema: Schema) -> Any:
    if not isinstance(value, dict):
        return value
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    result: dict[str, Any] = {}
    for key, item in value.items():
        item_schema = properties.get(key)
        if item_schema is None and isinstance(extra, Mapping):
            item_schema = extra
        # An unknown parameter keeps its decoded shape; the validator reports it.
        result[key] = coerce(item, item_schema) if item_schema is not None else item
    return result


def _coerce_scalar(value: str, kind: object) -> Any:
    if kind == "integer" and _INTEGER.fullmatch(value):
        return int(value)
    if kind == "number" and _NUMBER.fullmatch(value):
        number = float(value)
        return int(number) if number.is_integer() and _INTEGER.fullmatch(value) else number
    if kind == "boolean" and value in _BOOLEANS:
        return _BOOLEANS[value]
    return value

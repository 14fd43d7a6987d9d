"""JSON-schema helpers shared by the coercion and validation steps."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol, TypeAlias

from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30Validator

Schema: TypeAlias = Mapping[str, Any]


class Validator(Protocol):
    """The part of a ``jsonschema`` validator this package uses."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[Any]: ...


_validators: dict[int, tuple[Schema, Validator]] = {}
_lock = threading.Lock()


def validator_for(schema: Schema) -> Validator:
    """A cached ``OAS30Validator`` (it understands ``nullable``) for ``schema``.

    Keyed by identity: the schemas come from the spec, which lives as long as
    the process, and the cache keeps a reference so an id is never reused.
    """
    key = id(schema)
    entry = _validators.get(key)
    if entry is None:
        with _lock:
            entry = _validators.setdefault(key, (schema, OAS30Validator(schema)))
    return entry[1]


def strict_copy(schema: Schema, resolve: Callable[[str], Schema], _seen: frozenset[str] = frozenset()) -> Schema:
    """Copy ``schema`` with ``$ref`` inlined and nested parameter hashes closed.

    Stripe puts ``additionalProperties: false`` only on the top level of each
    request body, yet the API rejects unknown nested keys too
    (``Received unknown parameter: address[cty]``).  Every object that lists
    its ``properties`` and says nothing about ``additionalProperties`` is
    therefore closed here; open hashes such as ``metadata`` declare
    ``additionalProperties`` explicitly and stay open.
    """
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in _seen:  # a recursive schema: stop inlining, accept anything below
            return {}
        return strict_copy(resolve(ref), resolve, _seen | {ref})
    copy: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties") and isinstance(value, Mapping):
            copy[key] = {name: strict_copy(sub, resolve, _seen) for name, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            copy[key] = [strict_copy(sub, resolve, _seen) for sub in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            copy[key] = strict_copy(value, resolve, _seen)
        elif key != "description":  # descriptions are large and never needed
            copy[key] = value
    if "properties" in copy and "additionalProperties" not in copy:
        copy["additionalProperties"] = False
    return copy


class SchemaError(NamedTuple):
    """The most relevant validation error, in the API's terms."""

    path: list[str | int]  # to the offending parameter: ["items", 0, "price"]
    reason: str
    code: str  # Stripe's error code: parameter_unknown, parameter_missing, parameter_invalid


def first_error(validator: Validator, instance: object) -> SchemaError | None:
    """The error the API would most likely report first, or ``None`` if ``instance`` is valid."""
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    path: list[str | int] = list(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set(error.schema.get("properties", {}))
        unknown = sorted(str(key) for key in error.instance if key not in known)
        if unknown:
            return SchemaError([*path, unknown[0]], _unknown_reason(unknown[0], known), "parameter_unknown")
    if keyword == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return SchemaError([*path, missing[0]], "missing required parameter", "parameter_missing")
    choice = error if keyword in _CHOICES else error.parent
    if choice is not None and choice.validator in _CHOICES and list(choice.absolute_path) == path:
        # The value fits none of the branches: name them all (best_match would quote just one).
        expected = " or ".join(_describe(branch) for branch in choice.validator_value)
        return SchemaError(path, f"{choice.instance!r} is not valid: expected {expected}", "parameter_invalid")
    return SchemaError(path, str(error.message), "parameter_invalid")


_CHOICES = ("anyOf", "oneOf")
_TYPE_WORDS = {
    "object": "a hash",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
}


def _describe(schema: Schema) -> str:
    if "enum" in schema:
        return " or ".join(repr(value) for value in schema["enum"])
    return _TYPE_WORDS.get(str(schema.get("type")), "a value of another shape")


def _unknown_reason(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return "unknown parameter" + (f" (did you mean {close[0]!r}?)" if close else "")

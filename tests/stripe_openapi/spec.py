"""Check Stripe API requests against Stripe's OpenAPI description (spec3.json).

Usage::

    spec = load_spec()
    spec.validate_request("POST", "/v1/customers", "", "email=a%40b.c&metadata[k]=v")

A request that the API would reject for its shape (unknown path or method,
unknown or misspelt parameter, wrong type, missing required parameter)
raises :class:`SpecViolation`.  Values are not checked against live data.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from .coerce import coerce
from .formdata import FormDecodeError, FormNode, FormTree, decode_pairs, join_key, split_key
from .newer import NEWER_OPERATIONS, NEWER_PARAMETERS, NewerOperation
from .schemas import Schema, first_error, strict_copy, validator_for

__all__ = [
    "NEWER_OPERATIONS",
    "NEWER_PARAMETERS",
    "CheckedRequest",
    "SpecViolation",
    "StripeSpec",
    "load_spec",
    "read_json",
    "spec_dir",
]

# The copy this repository carries (gzipped; see data/README.md for where it comes from).
_DEFAULT_DIR = Path(__file__).resolve().parent / "data"
_FORM = "application/x-www-form-urlencoded"
_METHODS = ("GET", "POST", "DELETE")


def spec_dir() -> Path:
    """Folder holding spec3.json and the fixtures (``$STRIPE_OPENAPI_DIR`` overrides the copy in ``data/``)."""
    override = os.environ.get("STRIPE_OPENAPI_DIR")
    return Path(override) if override else _DEFAULT_DIR


def read_json(name: str, directory: Path | None = None) -> Any:
    """Parse *name* (``"spec3.json"``, ``"fixtures3.head.json"``) from *directory* or :func:`spec_dir`: the
    plain file when it is there, else its gzipped copy (``name + ".gz"``, as this repository ships them)."""
    folder = directory or spec_dir()
    plain = folder / name
    if plain.exists():
        return json.loads(plain.read_text(encoding="utf-8"))
    packed = folder / f"{name}.gz"
    if not packed.exists():
        raise FileNotFoundError(f"Neither {plain} nor {packed} exists (STRIPE_OPENAPI_DIR={folder})")
    with gzip.open(packed, "rt", encoding="utf-8") as stream:
        return json.load(stream)


class SpecViolation(AssertionError):
    """A request the Stripe API would reject because of its shape."""

    def __init__(
        self, method: str, path: str, reason: str, param: str | None = None, code: str = "parameter_invalid"
    ) -> None:
        where = f" parameter {param!r}:" if param else ""
        super().__init__(f"{method} {path}:{where} {reason}")
        self.method = method
        self.path = path
        self.reason = reason
        self.param = param
        # Stripe's error code for the equivalent API error, for the stub's answers.
        self.code = code


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed: where it went and what it carried, with JSON types."""

    method: str
    path: str
    templated_path: str
    path_params: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)


class _Route:
    """A node of the path trie; literal segments are tried before templates."""

    __slots__ = ("literal", "paths", "template")

    def __init__(self) -> None:
        self.literal: dict[str, _Route] = {}
        self.template: _Route | None = None
        self.paths: list[str] = []  # templated paths ending here

    def add(self, templated_path: str) -> None:
        node = self
        for segment in templated_path.strip("/").split("/"):
            if segment.startswith("{"):
                node.template = node.template or _Route()
                node = node.template
            else:
                node = node.literal.setdefault(segment, _Route())
        node.paths.append(templated_path)

    def matches(self, segments: list[str], depth: int = 0) -> Iterator[str]:
        """Templated paths matching ``segments``, most literal (leftmost first) first."""
        if depth == len(segments):
            yield from self.paths
            return
        child = self.literal.get(segments[depth])
        if child is not None:
            yield from child.matches(segments, depth + 1)
        if self.template is not None and segments[depth]:
            yield from self.template.matches(segments, depth + 1)


class StripeSpec:
    """Routing and request validation for one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.version: str = document.get("info", {}).get("version", "")
        self._operations: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._routes = _Route()
        for templated_path, item in document.get("paths", {}).items():
            methods = [m for m in _METHODS if m.lower() in item]
            for method in methods:
                self._operations[method, templated_path] = item[method.lower()]
            if methods:
                self._routes.add(templated_path)
        for _, templated_path in NEWER_OPERATIONS:
            if templated_path not in document.get("paths", {}):
                self._routes.add(templated_path)
        self._refs: dict[str, Schema] = {}
        self._param_schemas: dict[tuple[str, str], Schema] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> StripeSpec:
        return cls(read_json(path.name, path.parent))

    # -- routing -------------------------------------------------------------------------------

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        """``("POST", "/v1/customers/cus_1")`` -> ``("/v1/customers/{customer}", {"customer": "cus_1"})``."""
        method = method.upper()
        # Only the leading slash goes: "/v1/customers/" (empty last segment) matches nothing, as in the API.
        segments = [unquote(segment) for segment in path.removeprefix("/").split("/")]
        candidates = list(self._routes.matches(segments)) if path.startswith("/") else []
        if not candidates:
            raise SpecViolation(method, path, "unknown path (not in the spec)", code="url_invalid")
        for templated_path in candidates:
            if self.has_operation(method, templated_path):
                names = templated_path.strip("/").split("/")
                params = {n[1:-1]: s for n, s in zip(names, segments, strict=True) if n.startswith("{")}
                return templated_path, params
        allowed = sorted({m for m in _METHODS for p in candidates if self.has_operation(m, p)})
        reason = f"method not allowed on {candidates[0]} (spec has {', '.join(allowed)})"
        raise SpecViolation(method, path, reason, code="url_invalid")

    def has_operation(self, method: str, templated_path: str) -> bool:
        key = (method.upper(), templated_path)
        return key in self._operations or key in NEWER_OPERATIONS

    def has_retrieve(self, collection_path: str) -> bool:
        """Whether ``GET {collection_path}/{id}`` exists (so created objects can be fetched again)."""
        prefix = collection_path.rstrip("/") + "/{"
        return any(m == "GET" and p.startswith(prefix) and "/" not in p[len(prefix) :] for m, p in self._operations)

    # -- validation ----------------------------------------------------------------------------

    def validate_request(self, method: str, path: str, query: str, body: bytes | str | None) -> None:
        """Raise :class:`SpecViolation` unless the request fits the spec."""
        self.check_request(method, path, query, body)

    def check_request(
        self, method: str, path: str, query: str, body: bytes | str | None, *, content_type: str | None = None
    ) -> CheckedRequest:
        """Validate like :meth:`validate_request` and return the decoded, typed request.

        Query and form body are read together, as the API does; the library
        puts GET/DELETE parameters in the query and POST parameters in the body.
        """
        method = method.upper()
        if "?" in path:
            path, _, extra = path.partition("?")
            query = f"{query}&{extra}" if query else extra
        templated_path, path_params = self.route(method, path)
        pairs = parse_qsl(query or "", keep_blank_values=True)
        if content_type and not content_type.startswith(_FORM):
            # File uploads (multipart) are not described as forms; only the route and query are checked.
            body = None
        if body:
            pairs += parse_qsl(body.decode("utf-8") if isinstance(body, bytes) else body, keep_blank_values=True)
        try:
            tree = decode_pairs(pairs)
        except FormDecodeError as error:
            raise SpecViolation(method, path, error.reason, error.param) from None

        newer = NEWER_OPERATIONS.get((method, templated_path))
        if newer is not None:
            return self._check_newer(method, path, templated_path, path_params, tree, newer)

        allowed = _extract(tree, NEWER_PARAMETERS.get((method, templated_path), frozenset()))
        schema = self.param_schema(method, templated_path)
        params = coerce(tree, schema)
        problem = first_error(validator_for(schema), params)
        if problem is not None:
            raise SpecViolation(method, path, problem.reason, join_key(problem.path) or None, problem.code)
        for segments, value in allowed:
            _put(params, segments, _listify(value))
        return CheckedRequest(method, path, templated_path, path_params, params)

    def _check_newer(
        self,
        method: str,
        path: str,
        templated_path: str,
        path_params: dict[str, str],
        tree: FormTree,
        newer: NewerOperation,
    ) -> CheckedRequest:
        for name in tree:
            if name not in newer.parameters:
                raise SpecViolation(method, path, "unknown parameter (see NEWER_OPERATIONS)", name, "parameter_unknown")
        return CheckedRequest(method, path, templated_path, path_params, {k: _listify(v) for k, v in tree.items()})

    def param_schema(self, method: str, templated_path: str) -> Schema:
        """The strict JSON schema of all parameters of an operation (cached).

        POST parameters are the form body's schema.  GET and DELETE ones are
        the operation's query ``parameters`` plus its (usually empty) body
        schema: the library sends those in the query string too.
        """
        key = (method.upper(), templated_path)
        cached = self._param_schemas.get(key)
        if cached is not None:
            return cached
        operation = self._operations[key]
        body: Schema = operation.get("requestBody", {}).get("content", {}).get(_FORM, {}).get("schema", {})
        if key[0] == "POST":
            schema: Schema = body or {"type": "object", "properties": {}}
        else:
            query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            properties = {**body.get("properties", {}), **{p["name"]: p.get("schema", {}) for p in query}}
            required = [p["name"] for p in query if p.get("required")]
            schema = {"type": "object", "properties": properties, **({"required": required} if required else {})}
        schema = {**strict_copy(schema, self.resolve), "additionalProperties": False}
        with self._lock:
            return self._param_schemas.setdefault(key, schema)

    # -- responses -----------------------------------------------------------------------------

    def resolve(self, ref: str) -> Schema:
        """Follow a local ``$ref`` such as ``#/components/schemas/customer`` (cached)."""
        cached = self._refs.get(ref)
        if cached is None:
            node: Any = self.document
            for part in ref.removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            cached = self._refs.setdefault(ref, node)
        return cached

    def component(self, name: str) -> Schema | None:
        """A component schema by name (``"customer"``), or ``None``."""
        schemas: Mapping[str, Schema] = self.document.get("components", {}).get("schemas", {})
        return schemas.get(name)

    def response_schema_name(self, method: str, templated_path: str) -> str | None:
        """Component name of the 200 answer (``"customer"``); ``None`` for lists and unknown operations.

        Where the answer may be the object or its deleted form (GET a
        customer), the object is named.
        """
        names = self.response_schema_names(method, templated_path)
        preferred = [name for name in names if not name.startswith("deleted_")]
        return preferred[0] if preferred else names[0] if names else None

    def response_schema_names(self, method: str, templated_path: str) -> list[str]:
        """Every component name the 200 answer may be (``["card", "bank_account", "source"]``)."""
        newer = NEWER_OPERATIONS.get((method.upper(), templated_path))
        if newer is not None:
            return [newer.response] if newer.response else []
        return _ref_names(self._response_schema(method, templated_path))

    def list_kind(self, method: str, templated_path: str) -> str | None:
        """``"list"`` or ``"search_result"`` when the answer is a page of objects, else ``None``."""
        schema = self._response_schema(method, templated_path)
        kinds = schema.get("properties", {}).get("object", {}).get("enum", [])
        return kinds[0] if kinds and kinds[0] in ("list", "search_result") else None

    def list_item_schema_name(self, method: str, templated_path: str) -> str | None:
        """Component name of the items of a list answer (``"customer"`` for GET /v1/customers)."""
        if self.list_kind(method, templated_path) is None:
            return None
        schema = self._response_schema(method, templated_path)
        names = _ref_names(schema.get("properties", {}).get("data", {}).get("items", {}))
        return names[0] if names else None

    def _response_schema(self, method: str, templated_path: str) -> Schema:
        operation = self._operations.get((method.upper(), templated_path), {})
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        schema: Schema = content.get("application/json", {}).get("schema", {})
        return schema


def _ref_names(schema: Schema) -> list[str]:
    refs = [schema.get("$ref")] + [branch.get("$ref") for branch in schema.get("anyOf", [])]
    return [ref.rsplit("/", 1)[-1] for ref in refs if isinstance(ref, str)]


def _extract(tree: FormTree, names: frozenset[str]) -> list[tuple[list[str], FormNode]]:
    """Remove the allow-listed parameters from ``tree``; return them with their concrete paths."""
    found: list[tuple[list[str], FormNode]] = []
    for name in sorted(names):
        found += _extract_one(tree, split_key(name), [])
    return found


def _extract_one(tree: FormTree, segments: list[str], prefix: list[str]) -> list[tuple[list[str], FormNode]]:
    head, *rest = segments
    keys = list(tree) if head == "*" else [head] if head in tree else []
    found: list[tuple[list[str], FormNode]] = []
    for key in keys:
        if not rest:
            found.append(([*prefix, key], tree.pop(key)))
        elif isinstance(child := tree[key], dict):
            found += _extract_one(child, rest, [*prefix, key])
    return found


def _listify(node: FormNode) -> Any:
    """Without a schema, a hash keyed ``0..n`` is taken to be a list (``discounts[0][coupon]``)."""
    if isinstance(node, str):
        return node
    if node and all(key.isdigit() for key in node):
        return [_listify(node[key]) for key in sorted(node, key=int)]
    return {key: _listify(value) for key, value in node.items()}


def _put(params: Any, segments: list[str], value: FormNode) -> None:
    """Put an allow-listed value back where it was, through lists made by coercion."""
    node = params
    for segment in segments[:-1]:
        node = node[int(segment)] if isinstance(node, list) else node.setdefault(segment, {})
    if isinstance(node, dict):
        node[segments[-1]] = value


@functools.cache
def load_spec(directory: Path | None = None) -> StripeSpec:
    """The spec, parsed once per process (per directory)."""
    return StripeSpec.from_file((directory or spec_dir()) / "spec3.json")

"""Decode Stripe's bracketed form encoding into nested dicts.

Stripe (and ``stripe._encode._api_encode``) flattens nested parameters into
``application/x-www-form-urlencoded`` pairs: ``metadata[k]=v``,
``items[0][price]=p``, ``items[0][tax_rates][0]=t``, ``expand[0]=x``.  Lists
returned by the API carry ``expand[]=x`` in their ``url``, which the library
merges back into the query string of the next page.

Decoding is schema-free: every container is a ``dict`` with ``str`` keys and
every leaf a ``str``.  Whether ``{"0": ..., "1": ...}`` is a list or a hash
with numeric keys (``metadata[0]=x`` is legal) is only known from the schema,
so :mod:`.coerce` makes that decision later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeAlias
from urllib.parse import parse_qsl

FormNode: TypeAlias = "str | FormTree"
FormTree: TypeAlias = "dict[str, FormNode]"

# ``name`` followed by any number of ``[segment]`` groups; ``[]`` appends.
_KEY = re.compile(r"(?P<head>[^\[\]]+)(?P<rest>(?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormDecodeError(ValueError):
    """A form pair cannot be decoded; ``param`` names the offending key."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


def split_key(key: str) -> list[str]:
    """``"items[0][price]"`` -> ``["items", "0", "price"]``; ``"expand[]"`` -> ``["expand", ""]``."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise FormDecodeError(key, "malformed parameter name")
    return [match["head"], *_SEGMENT.findall(match["rest"])]


def join_key(segments: Sequence[str | int]) -> str:
    """Inverse of :func:`split_key`, the way Stripe names parameters in its errors."""
    if not segments:
        return ""
    head, *rest = segments
    return str(head) + "".join(f"[{segment}]" for segment in rest)


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> FormTree:
    """Build the nested tree from ``(key, value)`` pairs, rejecting conflicts."""
    tree: FormTree = {}
    for key, value in pairs:
        segments = split_key(key)
        node = tree
        for depth, segment in enumerate(segments[:-1]):
            if segment == "":
                # ``a[][b]`` is ambiguous (which element does ``b`` go to?) and the library never sends it.
                raise FormDecodeError(key, "'[]' is only supported as the last segment")
            child = node.setdefault(segment, {})
            if isinstance(child, str):
                raise FormDecodeError(join_key(segments[: depth + 1]), "given both as a value and as a hash")
            node = child
        last = segments[-1]
        if last == "":
            # ``expand[]=a&expand[]=b`` appends, like Rack does.
            last = str(len(node))
        if last in node:
            what = "given more than once" if isinstance(node[last], str) else "given both as a value and as a hash"
            raise FormDecodeError(join_key([*segments[:-1], last]), what)
        node[last] = value
    return tree


def decode_form(data: bytes | str | None) -> FormTree:
    """Decode a query string or an urlencoded body (``+`` and ``%XX`` included)."""
    if data is None:
        return {}
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return decode_pairs(parse_qsl(text, keep_blank_values=True))

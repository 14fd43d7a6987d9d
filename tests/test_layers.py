"""The package's layers, checked by walking its imports with ``ast``.

Every import counts: module level, inside functions, and under ``if TYPE_CHECKING:``.  The layers, in
data-flow order (see docs/architecture.rst); a module may import its own layer and those before it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flask_stripe_billing

PACKAGE = Path(flask_stripe_billing.__file__).parent
NAME = "flask_stripe_billing"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "money", "config_keys", "config", "signals"),
    ("core",),
    ("models",),
    ("customers", "plans", "coupons", "subscriptions", "checkout", "charges"),
    ("billable",),
    ("webhooks",),
    ("web",),
    ("cli",),
    ("extension",),
    ("", "testing", "offline"),
]
MAX_LINES = 400


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imported(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name imported from a package counts as that package)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = _imported(name, is_package, node)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def layer(module: str) -> int:
    top = module.removeprefix(NAME).removeprefix(".").split(".")[0]
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module} belongs to no layer: add its folder to LAYERS (and docs/architecture.rst)")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_module_imports_a_layer_after_its_own() -> None:
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert upward == []


def test_every_module_belongs_to_a_layer_and_stays_short() -> None:
    too_long = []
    for module, (path, _) in _modules().items():
        layer(module)
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{module}: {lines} lines")
    assert too_long == []


def test_the_walk_sees_cycles_and_upward_imports() -> None:
    """The checks above would fail on a cycle closed inside a function or under TYPE_CHECKING."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..extension import StripeBilling\n"
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.level)
    assert _imported(f"{NAME}.core.state", False, node) == f"{NAME}.extension"
    assert layer(f"{NAME}.extension") > layer(f"{NAME}.core.state")

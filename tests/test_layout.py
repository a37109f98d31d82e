"""The tree's shape: no import circle between modules or between packages, and the product never
imports what measures or trains it (`bench`, `training`, `tests`).

Imports are read from the source (every `import`, including those inside functions and under
TYPE_CHECKING), so a lazy import that closes a circle counts as much as a top-level one.
"""

from __future__ import annotations

import ast
import functools
import tomllib
from pathlib import Path

import pytest
from helpers import ROOT

PRODUCT = ("qa", "embeddings", "api", "bot")
OUTSIDE = ("bench", "training", "tests")
# the console scripts' modules (`qa.cli`): the composition root, which imports every front end and
# which nothing imports, so it counts as a node of its own rather than as part of `qa`
ENTRY_POINTS = {
    target.split(":")[0] for target in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"].values()
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache  # parsed once for all the checks below
def import_graph(roots: tuple[str, ...]) -> dict[str, set[str]]:
    """Module → the modules of these trees it imports (`from a.b import c` names a.b.c when that is a module)."""
    files = {module_name(p): p for root in roots for p in (ROOT / root).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
                    break
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same edges between packages (a module counts for the package holding it); a package
    importing its own subpackage, or the reverse, is containment, not a circle."""

    def package(module: str) -> str:
        if module in ENTRY_POINTS:
            return module
        path = ROOT / Path(*module.split("."))
        return module if path.is_dir() else module.rpartition(".")[0]

    edges: dict[str, set[str]] = {}
    for source, targets in graph.items():
        a = package(source)
        for target in targets:
            b = package(target)
            if a != b and not a.startswith(b + ".") and not b.startswith(a + "."):
                edges.setdefault(a, set()).add(b)
    return edges


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(import_graph(PRODUCT + OUTSIDE)) == []


def test_no_package_imports_itself_in_a_circle() -> None:
    assert cycles(package_graph(import_graph(PRODUCT + OUTSIDE))) == []


def test_nothing_imports_the_command_line() -> None:
    graph = import_graph(PRODUCT + OUTSIDE)
    assert ENTRY_POINTS and {m for m, ts in graph.items() if ts & ENTRY_POINTS and not m.startswith("tests.")} == set()


@pytest.mark.parametrize("root", PRODUCT)
def test_the_product_never_imports_what_measures_or_trains_it(root: str) -> None:
    graph = import_graph(PRODUCT + OUTSIDE)
    wrong = {m: sorted(t for t in ts if t.split(".")[0] in OUTSIDE) for m, ts in graph.items() if m.split(".")[0] == root}
    assert {m: ts for m, ts in wrong.items() if ts} == {}


def test_bench_scripts_import_the_package_not_each_other_or_tests() -> None:
    graph = import_graph(PRODUCT + OUTSIDE)
    wrong = {
        m: sorted(t for t in ts if t.split(".")[0] in ("bench", "tests")) for m, ts in graph.items() if m.startswith("bench.")
    }
    assert {m: ts for m, ts in wrong.items() if ts} == {}


def test_the_checker_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []

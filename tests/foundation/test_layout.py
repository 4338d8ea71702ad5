"""The import layout of app/: which package may depend on which.

Read from the source with `ast`, not from what Python happens to import, so an import hidden in
a function or under `if TYPE_CHECKING:` counts as much as one at the top: it is still a
dependency, and hiding it is how cycles used to creep back in.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_db

APP_DIR = Path(__file__).resolve().parents[2] / "app"
ROOT = "app"  # the node for `import app` / `from app import create_app`
COMPOSITION_ROOT = APP_DIR / "__init__.py"  # create_app wires everything, so it may import all

# Pipeline stages and capabilities built on documents: documents must not know them.
STAGES = frozenset({"normalize", "matching", "holds", "posting", "events"})
DOCUMENTS_MAY_IMPORT = frozenset({"orgs", "accounts", "audit", "db", "jobs", "pipeline"})
ORGS_MAY_IMPORT = frozenset({"db", "crypto"})


@dataclass(frozen=True)
class Import:
    source: str  # dotted module that imports
    target: str  # dotted module (or package) imported
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(APP_DIR.parent)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(APP_DIR.rglob("*.py"))}


MODULES = _all_modules()


def _base_of_relative(node: ast.ImportFrom, module: str, path: Path) -> str:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported_names(tree: ast.AST, module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module a file imports, wherever the import statement sits. `from X import y`
    names the submodule X.y when there is one, else X itself."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base_of_relative(node, module, path) if node.level else node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else base), node.lineno


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    # `from x import a, b` names x once per line, not once per name.
    for target, line in sorted(set(imported_names(tree, module, path))):
        if target == ROOT or target.startswith(ROOT + "."):
            yield Import(module, target, path, line)


@functools.cache
def all_imports() -> list[Import]:
    return [imp for module, path in MODULES.items() for imp in _imports_of(module, path)]


def package_of(module: str) -> str:
    """`app.accounts.services` -> `accounts`; `app.jobs` -> `jobs`; `app` -> the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


Graph = dict[tuple[str, str], list[Import]]


def graph(imports: Iterable[Import], node_of) -> Graph:
    """Edges between distinct nodes, each with the imports that make it."""
    edges: Graph = defaultdict(list)
    for imp in imports:
        source, target = node_of(imp.source), node_of(imp.target)
        if source != target:
            edges[source, target].append(imp)
    return edges


def strongly_connected(edges: Graph) -> list[set[str]]:
    """Tarjan's algorithm; a component of more than one node is a cycle."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        successors[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in successors[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted({n for edge in edges for n in edge}):
        if node not in index:
            visit(node)
    return components


def _in_order(imports: list[Import]) -> list[Import]:
    return sorted(imports, key=lambda imp: (str(imp.path), imp.line))


def describe_cycles(edges: Graph) -> str:
    """Each cycle with every edge inside it and the file:line lines that make the edge."""
    lines = []
    for component in strongly_connected(edges):
        if len(component) < 2:
            continue
        lines.append("cycle: " + ", ".join(sorted(component)))
        for (source, target), imports in sorted(edges.items()):
            if source in component and target in component:
                lines.append(f"  {source} -> {target}")
                lines += [f"      {imp.where}: import {imp.target}" for imp in _in_order(imports)]
    return "\n".join(lines)


def _edges_from(package: str) -> Graph:
    edges = graph(all_imports(), package_of)
    return {edge: imports for edge, imports in edges.items() if edge[0] == package}


def _describe(edges: Graph) -> str:
    return "\n".join(
        f"{source} -> {target}: " + ", ".join(imp.where for imp in _in_order(imports))
        for (source, target), imports in sorted(edges.items())
    )


# -- the rules ---------------------------------------------------------------------------------


def test_no_import_cycle_between_packages():
    sources = [imp for imp in all_imports() if imp.path != COMPOSITION_ROOT]
    cycles = describe_cycles(graph(sources, package_of))
    assert not cycles, "import cycles between packages of app/:\n" + cycles


def test_only_the_composition_root_imports_app_itself():
    """`from app import create_app` outside app/__init__.py makes every package depend on all
    others; whoever needs the factory is handed it."""
    offending = [
        imp
        for imp in all_imports()
        if imp.target == ROOT and imp.path != COMPOSITION_ROOT and imp.source != ROOT
    ]
    assert not offending, "imports of the app root:\n" + "\n".join(
        f"{imp.where}: {imp.source} imports app" for imp in offending
    )


def test_documents_imports_no_stage():
    edges = _edges_from("documents")
    stages = {edge: imports for edge, imports in edges.items() if edge[1] in STAGES}
    assert not stages, "documents must not import a pipeline stage:\n" + _describe(stages)
    others = {
        edge: imports for edge, imports in edges.items() if edge[1] not in DOCUMENTS_MAY_IMPORT
    }
    assert not others, f"documents may import only {sorted(DOCUMENTS_MAY_IMPORT)}:\n" + _describe(
        others
    )


def test_orgs_imports_no_capability():
    edges = _edges_from("orgs")
    others = {edge: imports for edge, imports in edges.items() if edge[1] not in ORGS_MAY_IMPORT}
    assert not others, f"orgs may import only {sorted(ORGS_MAY_IMPORT)}:\n" + _describe(others)


def test_no_import_cycle_between_onboarding_modules():
    """Counting imports inside functions: a loop hidden that way still ties every module in it
    to all the others."""
    inside = [
        imp
        for imp in all_imports()
        if imp.source.startswith("app.onboarding.") and imp.target.startswith("app.onboarding.")
    ]
    cycles = describe_cycles(graph(inside, lambda module: module.removeprefix("app.onboarding.")))
    assert not cycles, "import cycles between modules of app/onboarding:\n" + cycles


# -- the reader itself -------------------------------------------------------------------------


def test_hidden_imports_are_read():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from app.accounts.models import User\n"
        "def later():\n"
        "    from app import create_app\n"
        "    from . import rules\n"
        "    import app.jobs\n"
    )
    path = APP_DIR / "onboarding" / "example.py"
    found = set(imported_names(ast.parse(source), "app.onboarding.example", path))
    assert {
        ("app.accounts.models", 3),
        ("app", 5),
        ("app.onboarding.rules", 6),
        ("app.jobs", 7),
    } <= found


def test_a_cycle_is_reported_with_its_lines():
    def imp(source: str, target: str, line: int) -> Import:
        return Import(source, target, APP_DIR / "x.py", line)

    imports = [imp("app.a.m", "app.b", 1), imp("app.b.n", "app.a.m", 2), imp("app.b", "app.c", 3)]
    report = describe_cycles(graph(imports, package_of))
    assert "cycle: a, b" in report
    assert "a -> b" in report
    assert "b -> a" in report
    assert "app/x.py:2: import app.a.m" in report
    assert "-> c" not in report  # b -> c is an edge, not part of the cycle

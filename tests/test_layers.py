"""The packages import each other in one direction: no module-level import cycle anywhere in
ledger, api and pilots, and nothing in ledger imports the gateway at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from ledger.settings import project_root

PACKAGES = ("ledger", "api", "pilots")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module) -> set[str]:
    """Modules imported at module level (function bodies and TYPE_CHECKING blocks left out)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in [node, *(ast.walk(node) if isinstance(node, ast.If | ast.Try) else [])]:
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names}
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.add(child.module)
                found |= {f"{child.module}.{alias.name}" for alias in child.names}
    return found


def import_graph() -> nx.DiGraph:
    root = project_root()
    modules = {
        _module(path, root): path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(ast.parse(path.read_text())):
            if target in modules and target != name:
                graph.add_edge(name, target)
    return graph


def test_no_module_level_import_cycle() -> None:
    graph = import_graph()
    assert graph.has_edge("api.writes", "ledger.write.shell")  # the graph is read at all
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []
    graph.add_edge("ledger.write.shell", "api.writes")  # and a cycle would be seen
    assert any(len(c) > 1 for c in nx.strongly_connected_components(graph))


def test_the_library_does_not_import_the_gateway() -> None:
    graph = import_graph()
    upward = [(a, b) for a, b in graph.edges if a.startswith("ledger") and b.startswith("api")]
    assert upward == []

"""The cdga package's imports run one way: no module imports itself back through others, no
stage package imports itself back through another stage, and the core imports only itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cdga

PACKAGE = Path(cdga.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The cdga modules ``path`` imports anywhere (also inside functions): ``import cdga.x``,
    ``from cdga import x`` (a module x) and ``from cdga.x import y``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} & modules
            found |= {f"{node.module}.{a.name}" for a in node.names} & modules
    return found - {"cdga"}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_graph_sees_lazy_imports():
    graph = import_graph()
    assert "cdga.generation.images" in graph["cdga.generation.variants"]  # imported inside a classmethod
    assert "cdga.core.layout" in graph["cdga.plan"]


def test_cdga_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def stage(module: str) -> str:
    """The package a module belongs to (``cdga.data.shards`` -> ``data``), or the module's own
    name for the top floor (``cdga.config``, ``cdga.plan``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else module


def stage_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        edges = graph.setdefault(stage(module), set())
        edges |= {stage(t) for t in targets if t.count(".") >= 2 or t in {"cdga.config", "cdga.plan"}}
    return {name: edges - {name} for name, edges in graph.items()}


def test_stage_packages_import_each_other_one_way():
    graph = stage_graph()
    assert {"core", "data", "generation", "filtering", "training", "analyses", "report"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "stage cycle: " + " -> ".join(cycle)


def test_the_core_imports_only_the_core():
    assert stage_graph()["core"] == set()
    # nothing below the top floor reads the study's config or plan
    assert not [s for s, edges in stage_graph().items() if edges & {"cdga.config", "cdga.plan"}]


def test_the_core_and_the_plan_are_torch_free():
    modules = sorted(m for m in import_graph() if stage(m) == "core") + ["cdga.plan"]
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"

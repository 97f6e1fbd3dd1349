"""The import graph of include/callcentre, read from the sources (ast, nothing imported): no cycle,
and the shared modules (common/) never import a pipeline package, so each pipeline builds on
common/ and not the other way round. Imports inside functions count too: a deferred import is
still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "include"
PIPELINES = ("ivr", "scraping", "ivr_page", "scraping_page")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "callcentre").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The callcentre modules ``name`` imports (``from pkg import mod`` names the module mod)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {t for t in targets if t in modules and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_sources():
    graph = _graph()
    assert "callcentre.common.compat" in graph["callcentre.ivr.runtime"]
    assert "callcentre.ivr.business_day" in graph["callcentre.ivr.timetable"]


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_common_imports_no_pipeline_package():
    pipelines = tuple(f"callcentre.{p}" for p in PIPELINES)
    wrong = [
        f"{name} imports {target}"
        for name, targets in sorted(_graph().items())
        if name.startswith("callcentre.common")
        for target in sorted(targets)
        if target == pipelines or target.startswith(tuple(p + "." for p in pipelines)) or target in pipelines
    ]
    assert not wrong, "common/ must not depend on a pipeline: " + ", ".join(wrong)

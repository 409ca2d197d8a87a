"""bench/ imports its own modules without a cycle, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _imported(tree: ast.AST, package: str, modules: set[str]) -> set[str]:
    """The modules of ``package`` (names in ``modules``) that ``tree`` imports anywhere."""
    found: set[str] = set()
    for node in ast.walk(tree):  # every node: imports inside functions count as well
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # ``from . import a`` / ``from .a import x`` are relative to the package itself.
            parts = ([package] if node.level else []) + ([node.module] if node.module else [])
            base = ".".join(parts)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            head, _, rest = name.partition(".")
            if head == package and rest.split(".")[0] in modules:
                found.add(rest.split(".")[0])
    return found


def import_graph(directory: Path) -> dict[str, set[str]]:
    """Module name → the modules of the same package it imports."""
    modules = {path.stem for path in directory.glob("*.py") if path.stem != "__init__"}
    return {
        name: _imported(ast.parse((directory / f"{name}.py").read_text()), directory.name, modules)
        - {name}
        for name in modules
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, a]``), or None when the graph is a DAG."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for imported in sorted(graph[name]):
            if (cycle := visit(imported, [*path, name])) is not None:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        if (cycle := visit(name, [])) is not None:
            return cycle
    return None


def test_bench_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(BENCH)
    assert "store_server" in graph["store_bench"]  # the graph sees bench's own imports
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' → '.join(cycle or [])}"


def test_an_import_inside_a_function_closes_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "bench"
    package.mkdir()
    (package / "a.py").write_text("from bench.b import x\n")
    (package / "b.py").write_text("def f():\n    from bench import a\n")
    (package / "c.py").write_text("from .a import y\nimport bench.b\n")
    graph = import_graph(package)
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"a", "b"}}
    assert find_cycle(graph) == ["a", "b", "a"]

"""The import graph runs one way: every package imports only the layers below it.

Checked on the source (every ``import``, including those inside function bodies), so a lazy
import cannot hide an upward arrow. The layers are the ones drawn in docs/architecture.md:

0. ``tracker``: the event contract, the Python client, settings, erasure records;
1. ``enrichment`` (request/log-line enrichment), ``embedded`` (local services: ports, jars,
   the embedded broker);
2. ``collector``, ``stream_jobs``, ``personalization``: the components, which never import
   each other;
3. ``simulation`` (the simulated shop and its exams, which drive the real personalization code),
   ``dags``, ``dashboard`` (the marketer's served reports);
4. ``demo``;
5. ``clickloop``: the CLI.

``tests`` and ``bench`` sit above everything.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from tracker.settings import PROJECT_ROOT

LAYERS: dict[str, int] = {
    "tracker": 0,
    "enrichment": 1, "embedded": 1,
    "collector": 2, "stream_jobs": 2, "personalization": 2,
    "simulation": 3, "dags": 3, "dashboard": 3,
    "demo": 4,
    "clickloop": 5,
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            if any(part.startswith(".") or part == "node_modules" for part in parts):
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports (resolved to the longest known module name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import module` depends on the module; `from pkg import name`, on pkg
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                     for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        for target in names:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_collected_for_its_docstring_examples() -> None:
    """A new top-level package must be added to LAYERS here and to pytest's testpaths, so its
    docstring examples run (``--doctest-modules``) and its imports are checked."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = config["ini_options"]
    assert "--doctest-modules" in options["addopts"]
    packaged = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")}
    assert packaged - {"tests", "bench"} == set(LAYERS) - {"dags"}
    assert set(options["testpaths"]) == {"tests"} | set(LAYERS) - {"dags"}


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_run_down_the_layers(package: str) -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items() if _top(module) == package
        for target in targets
        if _top(target) != package and LAYERS[_top(target)] >= LAYERS[package]
    )
    assert upward == []


def test_no_import_cycles() -> None:
    """No two modules import each other, directly or through others (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # recursive: the graph is a few hundred modules deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_function_body_and_relative_imports(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from demo import stack\n    from . import ports\n"
                      "import importlib\nimportlib.import_module('collector.app')\n"
                      "from tracker.contract import new_event\n")
    assert _imports("embedded.sample", module) == {"demo.stack", "embedded.ports",
                                                   "collector.app", "tracker.contract"}


def test_graph_is_not_empty() -> None:
    edges = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            edges[_top(module)].add(_top(target))
    assert "tracker" in edges["collector"] and "tracker" in edges["personalization"]

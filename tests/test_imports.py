"""The package's import graph: no cycles, no upward, CLI or private imports across stages.

Every module of the package folders is parsed with :mod:`ast`, imports inside functions included, so an
import hidden in a function body to dodge a cycle still counts as an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"drgdip": "drgdip", "grouper": "drgdip.grouper", "pointvalue": "drgdip.pointvalue",
           "budget": "drgdip.budget", "synth": "drgdip.synth", "simulate": "drgdip.simulate",
           "report": "drgdip.report"}
STAGES = ("grouper", "pointvalue", "budget", "synth", "simulate", "report")
APP = ("drgdip.cli", "drgdip.demo")  # the command and the demo may import anything
# the layers each layer may import (its own included); drgdip.core is everyone's foundation
ALLOWED = {"core": {"core"}, "grouper": {"core", "grouper"}, "pointvalue": {"core", "grouper", "pointvalue"},
           "budget": {"core", "grouper", "pointvalue", "budget"},
           # synth prices groups with the engine's weight tables (pointvalue.WeightTable)
           "synth": {"core", "grouper", "pointvalue", "synth"},
           "simulate": {"core", "grouper", "pointvalue", "budget", "simulate"},
           # the report reads output folders: it needs no stage's code, only the tables they write
           "report": {"core", "report"}}


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package folders."""
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, name taken from it or None, line) of every import in ``module``, nested ones too."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    package = module if _is_package(module) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    found.append((f"{base}.{alias.name}", None, node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return [(target, name, line) for target, name, line in found
            if target == "drgdip" or target.startswith("drgdip.")]


def _known(target: str) -> str:
    """The longest listed module that ``target`` names (``import a.b.c`` of a package ``a.b`` gives it)."""
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


GRAPH = {module: [(_known(t), n, line) for t, n, line in _imports(module)] for module in MODULES}


def _layer(module: str) -> str:
    """core, one of STAGES, or app; the bare ``drgdip`` package counts as core (every import runs it)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    return parts[1] if parts[1] in ("core", *STAGES) else "app"


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    work: list = []  # depth-first path: (module, its targets not yet visited)

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(graph[node]))))

    for root in sorted(graph):
        if root in index:
            continue
        enter(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    enter(target)
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return found


def test_cycle_finder():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["e"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_package_folder_is_parsed():
    assert {"drgdip.cli", "drgdip.core", "drgdip.grouper.dip", "drgdip.pointvalue.weights",
            "drgdip.budget.pipeline", "drgdip.synth.cli"} <= set(MODULES)
    assert all(target in MODULES for edges in GRAPH.values() for target, _, _ in edges), \
        "an import names a module outside the package folders"


def test_no_import_cycle():
    cycles = _cycles({module: {target for target, _, _ in edges} for module, edges in GRAPH.items()})
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", ["core", *STAGES])
def test_layers_import_only_lower_layers(layer):
    bad = [f"{_where(m, line)} {m} imports {t}" for m in MODULES if _layer(m) == layer
           for t, _, line in GRAPH[m] if _layer(t) not in ALLOWED[layer]]
    assert not bad, "\n".join(bad)


def test_no_stage_imports_a_command_module():
    """Only ``drgdip.cli`` assembles the stages' ``cli`` modules; what they share lives in the stage proper."""
    bad = [f"{_where(m, line)} {m} imports {t}" for m in MODULES if m not in APP
           for t, _, line in GRAPH[m] if t in APP or t.endswith(".cli")]
    assert not bad, "\n".join(bad)


def test_no_private_import_from_another_package():
    """``_``-prefixed modules and names stay inside their stage; ``drgdip.core``'s are shared by all."""
    bad = []
    for module in MODULES:
        for target, name, line in GRAPH[module]:
            layer = _layer(target)
            if layer in ("core", _layer(module)):
                continue
            private_module = any(part.startswith("_") and not part.startswith("__") for part in target.split("."))
            if private_module or (name or "").startswith("_"):
                bad.append(f"{_where(module, line)} {module} imports {target}" + (f".{name}" if name else ""))
    assert not bad, "\n".join(bad)

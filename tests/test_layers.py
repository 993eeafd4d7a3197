"""Layers that hold: the engine-free episode loop and the jobs that only talk to servers load nothing heavy, and
the two training engines depend on `s3core.search`, never on each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "s3core"
HEAVY = ("torch", "faiss", "transformers")


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """File -> the s3core modules it imports (at any depth of the file)."""
    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.relative_to(PACKAGE.parent).as_posix()] = {n for n in names if n.startswith("s3core")}
    return found


@pytest.mark.parametrize("module", ["s3core.search.rollout", "s3core.search.episode", "s3core.search.reward"])
def test_the_episode_loop_loads_no_heavy_library(module):
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"importing {module} loads {loaded}"


def test_a_job_that_answers_through_a_server_loads_no_heavy_library():
    # evaluate and the baselines' infer jobs look up every method (s3's too); importing PyTorch there cost each of
    # the demo's ~40 such jobs ~3 CPU-s of its ~4
    code = (
        "import sys, s3core.cli, s3core.stages.answers, s3core.stages.services; from s3core.methods import get_method; "
        "[get_method(m) for m in ('direct', 'rag_bm25', 'ircot', 'search_o1', 'search_r1', 'deepretrieval', 's3')]; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"a server client's job loads {loaded}"


@pytest.mark.parametrize(("engine", "other"), [("verl_engine", "s3core.train"), ("train", "s3core.verl_engine")])
def test_the_training_engines_do_not_import_each_other(engine, other):
    crossing = {
        file: sorted(n for n in names if n == other or n.startswith(other + "."))
        for file, names in imported_modules(PACKAGE / engine).items()
    }
    assert not {file: names for file, names in crossing.items() if names}


#: The package layers, low to high: a module imports (deferred imports too) only from its own package or lower
#: ones. train and verl_engine share a layer and never import each other (above).
LAYERS = [
    ["errors", "resources"],
    ["data"],
    ["config"],
    ["serving"],
    ["assets"],
    ["retrieval"],
    ["generation"],
    ["evaluation"],
    ["search"],
    ["methods"],
    ["train", "verl_engine"],
    ["plan"],
    ["stages"],
    ["reporting"],
    ["cluster"],
    ["cli"],
]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def package_of(module: str) -> str:
    """`s3core.search.rollout` -> search; the package's own `__init__` (`s3core`) -> errors' layer (it is
    version data only)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "errors"


def module_imports() -> dict[str, set[str]]:
    """s3core module -> the s3core modules it imports, at any depth of the file (deferred imports count)."""
    graph = {}
    for file, names in imported_modules(PACKAGE).items():
        module = file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        graph[module] = {n for n in names if n != module}
    return graph


def cross_package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of the package graph (packages joined by any module import) that hold
    more than one package."""
    edges: dict[str, set[str]] = {}
    for module, names in graph.items():
        for name in names:
            if package_of(module) != package_of(name):
                edges.setdefault(package_of(module), set()).add(package_of(name))
    reach = {p: _reachable(p, edges) for p in {*edges, *(q for e in edges.values() for q in e)}}
    components = {frozenset(q for q in reach[p] | {p} if p in reach[q]) for p in reach}
    return sorted(sorted(c) for c in components if len(c) > 1)


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_package_has_a_layer():
    packages = {package_of(module) for module in module_imports()}
    assert packages == set(LEVEL), "add the new package to LAYERS (and docs/design.md's layer list)"


def test_no_import_cycle_crosses_packages():
    assert cross_package_cycles(module_imports()) == []


def test_a_cycle_across_packages_is_found():
    graph = {"s3core.generation.vllm": {"s3core.assets.hub"}, "s3core.assets.hub": {"s3core.generation.vllm"}}
    assert cross_package_cycles(graph) == [["assets", "generation"]]


def test_imports_go_down_the_layers():
    upward = sorted(
        f"{module} -> {name}"
        for module, names in module_imports().items()
        for name in names
        if LEVEL[package_of(name)] > LEVEL[package_of(module)]
    )
    assert upward == []

"""Which installed distributions an `s3core` verb can import: a static walk of the imports in the verb's
function, then of every s3core module those reach (module level and inside functions)."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "s3core"


def _imported(node: ast.AST) -> set[str]:
    """Absolute module names imported anywhere under `node`."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            names.update(alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
            names.add(child.module)
            names.update(f"{child.module}.{alias.name}" for alias in child.names)
    return names


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    for candidate in (PACKAGE.joinpath(*parts).with_suffix(".py"), PACKAGE.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


@cache
def _module_imports(name: str) -> frozenset[str]:
    path = _module_file(name)
    return frozenset(_imported(ast.parse(path.read_text()))) if path else frozenset()


def verb_modules(function: str) -> set[str]:
    """Top-level third-party modules reachable from `s3core.cli.<function>`."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    helpers = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    todo = list(_imported(body))
    called = {c.func.id for c in ast.walk(body) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    for helper in called & helpers.keys():  # the CLI's own helpers (_access, _answering, ...)
        todo += _imported(helpers[helper])
    todo += _imported(
        ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[])
    )
    seen: set[str] = set()
    third_party: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top == "s3core":
            todo += _module_imports(name)
        elif top not in sys.stdlib_module_names and top != "__future__":
            third_party.add(top)
    return third_party


def distributions(modules: set[str]) -> set[str]:
    """The installed distributions (lower case) that provide `modules`."""
    provided = importlib.metadata.packages_distributions()
    return {dist.lower() for module in modules for dist in provided.get(module, [module])}

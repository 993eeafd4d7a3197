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

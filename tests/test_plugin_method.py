"""A new baseline added through the registry alone: a package that registers a Method under the entry-point group
`s3core.methods` (no edit of this repository) is named in `eval.methods` and runs through the DAG: retrieval,
the shared evaluator, the table row under its own label."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml
from workflow_run import ROOT, snakemake, tiny_config

from s3core.data.jsonl import read_jsonl

PLUGIN = '''
"""A baseline from another package: the top BM25 document of the question alone."""

from s3core.data.rows import context_row, search_text
from s3core.methods import Method


def run(questions, retriever, config):
    hits = retriever.search([search_text(q) for q in questions], 1)
    return [context_row(q, "first_doc", [d.to_dict() for d in docs]) for q, docs in zip(questions, hits)]


METHOD = Method("first_doc", "First BM25 doc", run, retriever="bm25")
'''


@pytest.fixture
def plugin_path(tmp_path):
    """A folder holding the plugin's module and the dist-info that registers it (as `pip install` would)."""
    (tmp_path / "first_doc_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "first_doc_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: first-doc-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[s3core.methods]\nfirst_doc = first_doc_plugin:METHOD\n")
    return tmp_path


def test_the_registry_finds_an_installed_plugin(plugin_path):
    code = "from s3core.methods.registry import labels; print(list(labels().items())[-1])"
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "('first_doc', 'First BM25 doc')"


@pytest.mark.slow
def test_a_plugin_baseline_runs_through_the_dag(plugin_path, tmp_path):
    suite = "test-plugin"
    shutil.rmtree(ROOT / "results" / suite, ignore_errors=True)
    config = tiny_config(suite, ["direct", "first_doc"])
    llm = config["generators"]["smollm2-135m"]["model"]
    config["generators"]["smollm2-135m"] = {"backend": "hf", "model": llm, "max_new_tokens": 12}  # no server start
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    run = snakemake("all", "--profile", "workflow/profiles/local", "--configfile", str(path), env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = ROOT / "results" / suite
    [row] = read_jsonl(results / "contexts" / "first_doc" / "nq.jsonl")[:1]
    assert row["method"] == "first_doc" and len(row["docs"]) == 1
    answers = read_jsonl(results / "answers" / "first_doc" / "smollm2-135m" / "nq.jsonl")
    assert len(answers) == 4 and all("genacc" in a for a in answers)
    table = (results / "tables" / "main.md").read_text()
    assert table.index("| Direct") < table.index("| First BM25 doc")  # the paper's rows, then the plugin's
    shutil.rmtree(results, ignore_errors=True)

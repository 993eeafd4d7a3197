"""The Snakemake workflow: lint, dry runs of the shipped configs, and the slice DAG on a tiny config."""

import json
import shutil

import pandas as pd
import pytest
import yaml

from workflow_run import ALL_METHODS, ROOT, snakemake, tiny_config

# The run covers every stage and every kind of method (closed-book, one-shot retrieval of both kinds, an
# iterative retriever, s3 before and after training). CoT, Search-o1, Search-R1 and DeepRetrieval run end to end
# in tests/test_baselines.py and `make demo`; their rules are built by the dry runs below (kept out to hold CI
# under 30 minutes).
METHODS = ["direct", "rag_bm25", "rag_dense", "ircot", "s3_step0", "s3"]
TINY = tiny_config("test-tiny", METHODS)


def test_lint_is_clean():
    run = snakemake("--lint")
    assert run.returncode == 0 and "Congratulations" in run.stdout + run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml"])
def test_dry_run_builds_the_dag(configfile):
    run = snakemake("--configfile", configfile, "--dry-run", "--forceall", "--cores", "2", "all")
    assert run.returncode == 0, run.stderr
    assert "table" in run.stdout and "evaluate" in run.stdout
    assert all(f"infer_{method}" in run.stdout for method in ALL_METHODS)


def test_a_configfile_replaces_the_demo_config_instead_of_merging_over_it():
    run = snakemake("--configfile", "config/paper.yaml", "--dry-run", "--forceall", "--printshellcmds",
                    "--cores", "2", "all")
    assert run.returncode == 0, run.stderr
    assert "results/demo/" not in run.stdout and "smollm2-135m" not in run.stdout
    assert '"model": "Qwen/Qwen2.5-7B-Instruct"' in run.stdout


def test_bad_config_value_fails_with_the_key():
    run = snakemake("--config", "suite=bad suite!", "--dry-run", "--cores", "1")
    assert run.returncode != 0 and "Failed validating" in run.stdout + run.stderr and "suite" in run.stdout


def test_tiny_dag_end_to_end(tmp_path):
    shutil.rmtree(ROOT / "results" / "test-tiny", ignore_errors=True)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run = snakemake("--profile", "workflow/profiles/local", "--configfile", str(config), "--cores", "2", "all")
    assert run.returncode == 0, run.stderr[-3000:]
    out = ROOT / "results" / "test-tiny"
    table = pd.read_csv(out / "tables" / "main.csv")
    assert sorted(table.method.unique()) == sorted(METHODS)
    assert list(table.dataset.unique()) == ["nq"] and (table.n == 4).all()
    for metric in ["genacc", "em", "f1"]:
        assert table[metric].between(0, 100).all()
    markdown = (out / "tables" / "main.md").read_text()
    labels = ["| Direct", "| RAG-BM25", "| RAG-dense", "| IRCoT", "| s3 (step 0)", "| s3 ", "Avg"]
    assert all(label in markdown for label in labels), markdown
    assert (out / "train" / "s3" / "curve.png").stat().st_size > 0
    assert (out / "train" / "s3" / "searcher" / "config.json").exists()
    assert len((out / "train" / "s3" / "metrics.jsonl").read_text().splitlines()) == 1
    for method in METHODS:
        assert (out / "logs" / "infer" / method / "nq.log").exists()
        assert (out / "benchmarks" / "infer" / method / "nq.tsv").exists()
    provenance = json.loads((out / "logs" / "infer" / "rag_bm25" / "nq.provenance.json").read_text())
    [server] = provenance["services"]
    assert provenance["exit_status"] == 0 and server["role"] == "retriever:bm25" and "exit_code" in server
    rerun = snakemake("--profile", "workflow/profiles/local", "--configfile", str(config), "--dry-run", "all")
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr

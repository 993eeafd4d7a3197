"""The tiny demo DAG end to end, with the local executor and through a SLURM controller (every rule but the
local ones submitted by sbatch). Each run spends most of its time on one serial chain of jobs (model, naive-RAG
cache, PPO, s3, evaluation) with cores to spare, so the module starts both at once and each test waits for its
own."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slurm_cluster import slurm_controller_up
from workflow_run import ROOT, BackgroundRun, snakemake, tiny_config

# The local run covers every stage and every kind of method (closed-book, one-shot retrieval of both kinds, an
# iterative retriever, s3 before and after training). CoT, Search-o1, Search-R1 and DeepRetrieval run end to end
# in tests/test_baselines.py and `make demo`; their rules are built by the dry runs in test_workflow.py (kept out
# to hold CI under 30 minutes).
LOCAL_METHODS = ["direct", "rag_bm25", "rag_dense", "ircot", "s3_step0", "s3"]
SLURM_METHODS = ["direct", "rag_bm25", "s3"]
#: Rules that run on the submit host (`localrules`: the cheap ones and the downloads); every other rule must be a
#: SLURM job.
LOCAL_RULES = {"all", "table", "plot_training", "download", "fetch_models"}
SLURM_LOGS = ROOT / ".snakemake" / "slurm_logs"
TIMEOUT_S = 1500


def fake_gpus() -> int:
    """GPUs the cluster's nodes advertise (fake GRES from local-slurm-up.sh count)."""
    out = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True).stdout
    return sum(int(part.rsplit(":", 1)[1]) for part in out.split(",") if part.startswith("gpu:"))


def start_local(work: Path) -> BackgroundRun:
    shutil.rmtree(ROOT / "results" / "test-tiny", ignore_errors=True)
    config = work / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config("test-tiny", LOCAL_METHODS)))
    return BackgroundRun(work / "local.log", "--profile", "workflow/profiles/local", "--configfile", str(config),
                         "--cores", "2", "all")


def start_slurm(work: Path) -> BackgroundRun:
    shutil.rmtree(ROOT / "results" / "test-slurm", ignore_errors=True)
    shutil.rmtree(SLURM_LOGS, ignore_errors=True)
    config = tiny_config("test-slurm", SLURM_METHODS)
    config["resources"] = {"train_s3": {"gpu": min(fake_gpus(), 1)}}   # fake GRES: scheduled, runs on the CPU
    path = work / "slurm.yaml"
    path.write_text(yaml.safe_dump(config))
    return BackgroundRun(work / "slurm.log", "all", "--profile", "workflow/profiles/slurm", "--configfile", str(path))


@pytest.fixture(scope="module")
def dag_runs(request, tmp_path_factory):
    """The runs the selected tests need, started together (the SLURM one only where a controller answers)."""
    work = tmp_path_factory.mktemp("dags")
    selected = {item.originalname for item in request.session.items}
    runs = {}
    if "test_tiny_dag_end_to_end" in selected:
        runs["local"] = start_local(work)
    if "test_tiny_dag_through_slurm" in selected and slurm_controller_up():
        runs["slurm"] = start_slurm(work)
    yield runs
    for run in runs.values():
        run.stop()


def test_tiny_dag_end_to_end(dag_runs):
    status, output = dag_runs["local"].finish(TIMEOUT_S)
    assert status == 0, output[-3000:]
    out = ROOT / "results" / "test-tiny"
    table = pd.read_csv(out / "tables" / "main.csv")
    assert sorted(table.method.unique()) == sorted(LOCAL_METHODS)
    assert list(table.dataset.unique()) == ["nq"] and (table.n == 4).all()
    for metric in ["genacc", "em", "f1"]:
        assert table[metric].between(0, 100).all()
    markdown = (out / "tables" / "main.md").read_text()
    labels = ["| Direct", "| RAG-BM25", "| RAG-dense", "| IRCoT", "| s3 (step 0)", "| s3 ", "Avg"]
    assert all(label in markdown for label in labels), markdown
    assert (out / "train" / "s3" / "curve.png").stat().st_size > 0
    assert (out / "train" / "s3" / "searcher" / "config.json").exists()
    assert len((out / "train" / "s3" / "metrics.jsonl").read_text().splitlines()) == 1
    for method in LOCAL_METHODS:
        assert (out / "logs" / "infer" / method / "nq.log").exists()
        assert (out / "benchmarks" / "infer" / method / "nq.tsv").exists()
    provenance = json.loads((out / "logs" / "infer" / "rag_bm25" / "nq.provenance.json").read_text())
    [server] = provenance["services"]
    assert provenance["exit_status"] == 0 and server["role"] == "retriever:bm25" and "exit_code" in server
    rerun = snakemake(*dag_runs["local"].args, "--dry-run")
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr


def test_tiny_dag_through_slurm(slurm, dag_runs):
    status, output = dag_runs["slurm"].finish(TIMEOUT_S)
    assert status == 0, output[-4000:]
    out = ROOT / "results" / "test-slurm"
    table = pd.read_csv(out / "tables" / "main.csv")
    assert sorted(table.method.unique()) == sorted(SLURM_METHODS) and (table.n == 4).all()
    submitted = {p.name.removeprefix("rule_") for p in SLURM_LOGS.iterdir()}
    expected = {"convert_llm", "index", "precompute", "train_s3", "evaluate",
                *(f"infer_{m}" for m in SLURM_METHODS)}
    assert submitted == expected and submitted.isdisjoint(LOCAL_RULES), f"SLURM jobs: {sorted(submitted)}"
    assert list((SLURM_LOGS / "rule_train_s3").rglob("*.log"))
    training = json.loads((out / "logs" / "train_s3.provenance.json").read_text())
    assert training["exit_status"] == 0 and training["slurm"]["SLURM_JOB_ID"]
    assert [s["role"] for s in training["services"]] == ["retriever:dense"]

"""The cluster path: the SLURM profile, `s3core profile install`, per-rule resources, and the tiny demo DAG
submitted rule by rule with sbatch to a real SLURM controller (`scripts/local-slurm-up.sh` brings one up)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from s3core.cli import main
from s3core.errors import S3Error
from s3core.profile import install_profile
from workflow_run import ROOT, snakemake, tiny_config

PROFILE = ROOT / "workflow" / "profiles" / "slurm"
SLURM_METHODS = ["direct", "rag_bm25", "s3"]
#: Rules that run on the submit host (`localrules`); every other rule must be a SLURM job.
LOCAL_RULES = {"all", "table", "plot_training"}


def fake_gpus() -> int:
    """GPUs the cluster's nodes advertise (fake GRES from local-slurm-up.sh count)."""
    out = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True).stdout
    return sum(int(part.rsplit(":", 1)[1]) for part in out.split(",") if part.startswith("gpu:"))


def test_profile_install_links_and_refuses_to_clobber(tmp_path):
    link = install_profile(PROFILE, "slurm", tmp_path)
    assert link.is_symlink() and link.resolve() == PROFILE.resolve()
    assert install_profile(PROFILE, "slurm", tmp_path) == link          # idempotent
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text("executor: slurm\n")
    with pytest.raises(S3Error, match="--force"):
        install_profile(other, "slurm", tmp_path)
    assert install_profile(other, "slurm", tmp_path, force=True).resolve() == other.resolve()
    with pytest.raises(S3Error, match="not a Snakemake profile"):
        install_profile(tmp_path / "missing", "x", tmp_path)


def test_profile_install_makes_the_literal_profile_slurm_work(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    assert main(["profile", "install"]) == 0
    assert (tmp_path / "snakemake" / "slurm").resolve() == PROFILE.resolve()
    run = snakemake("--profile", "slurm", "--dry-run", "--forceall", "all")
    assert run.returncode == 0 and "train_s3" in run.stdout, run.stderr[-2000:]


def test_profile_reads_job_states_with_squeue():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    assert 3 * profile["slurm-init-seconds-before-status-checks"] <= 300        # MinJobAge of local-slurm-up.sh
    assert {"slurm_partition", "mem_mb", "runtime"} <= set(profile["default-resources"])


def test_rules_ask_for_the_resources_the_config_names():
    run = snakemake("--configfile", "config/paper.yaml", "--dry-run", "--forceall", "--cores", "2",
                    "results/paper/train/s3/searcher")
    assert run.returncode == 0, run.stderr
    jobs = {block.split("\n", 1)[0].strip(): block for block in run.stdout.split("rule ")[1:]}
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["resources"]
    assert f"gpu={paper['train_s3']['gpu']}" in jobs["train_s3:"]
    assert f"mem_mb={paper['train_s3']['mem_mb']}" in jobs["train_s3:"]
    assert "gpu=" not in jobs["download:"] or "gpu=0" in jobs["download:"]


def test_tiny_dag_through_slurm(slurm, tmp_path):
    suite = "test-slurm"
    shutil.rmtree(ROOT / "results" / suite, ignore_errors=True)
    shutil.rmtree(ROOT / ".snakemake" / "slurm_logs", ignore_errors=True)
    config = tiny_config(suite, SLURM_METHODS)
    config["resources"] = {"train_s3": {"gpu": min(fake_gpus(), 1)}}   # fake GRES: scheduled, runs on the CPU
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(config))
    run = snakemake("all", "--profile", "workflow/profiles/slurm", "--configfile", str(path), timeout=1500)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]

    table = pd.read_csv(ROOT / "results" / suite / "tables" / "main.csv")
    assert sorted(table.method.unique()) == sorted(SLURM_METHODS) and (table.n == 4).all()
    submitted = {p.name.removeprefix("rule_") for p in (ROOT / ".snakemake" / "slurm_logs").iterdir()}
    expected = {"download", "convert_llm", "index", "precompute", "train_s3", "evaluate",
                *(f"infer_{m}" for m in SLURM_METHODS)}
    assert submitted == expected and submitted.isdisjoint(LOCAL_RULES), f"SLURM jobs: {sorted(submitted)}"
    assert list((ROOT / ".snakemake" / "slurm_logs" / "rule_train_s3").rglob("*.log"))
    training = json.loads((ROOT / "results" / suite / "logs" / "train_s3.provenance.json").read_text())
    assert training["exit_status"] == 0 and training["slurm"]["SLURM_JOB_ID"]
    assert [s["role"] for s in training["services"]] == ["retriever:dense"]

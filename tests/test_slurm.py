"""The cluster path: the SLURM profile, `s3core profile install` and per-rule resources (test_dag_runs.py
submits the tiny demo DAG rule by rule to a real SLURM controller)."""

from __future__ import annotations

import pytest
import yaml
from workflow_run import ROOT, snakemake

from s3core.cli import main
from s3core.cluster.snakemake_profile import install_profile
from s3core.errors import S3Error

pytestmark = pytest.mark.slow  # submits jobs to a SLURM cluster

PROFILE = ROOT / "workflow" / "profiles" / "slurm"


def test_profile_install_links_and_refuses_to_clobber(tmp_path):
    link = install_profile(PROFILE, "slurm", tmp_path)
    assert link.is_symlink() and link.resolve() == PROFILE.resolve()
    assert install_profile(PROFILE, "slurm", tmp_path) == link  # idempotent
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
    assert 3 * profile["slurm-init-seconds-before-status-checks"] <= 300  # MinJobAge of local-slurm-up.sh
    assert {"slurm_partition", "mem_mb", "runtime"} <= set(profile["default-resources"])


def test_rules_ask_for_the_resources_the_config_names():
    run = snakemake(
        "--configfile",
        "config/paper.yaml",
        "--dry-run",
        "--forceall",
        "--cores",
        "2",
        "results/paper/train/s3/searcher",
    )
    assert run.returncode == 0, run.stderr
    jobs = {block.split("\n", 1)[0].strip(): block for block in run.stdout.split("rule ")[1:]}
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["resources"]
    assert f"gpu={paper['train_s3']['gpu']}" in jobs["train_s3:"]
    assert f"mem_mb={paper['train_s3']['mem_mb']}" in jobs["train_s3:"]
    assert "gpu=" not in jobs["download:"] or "gpu=0" in jobs["download:"]

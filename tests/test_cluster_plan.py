"""The paper on a SLURM cluster, dry-run with the SLURM profile: a model or an index is loaded by at most a few
hundred jobs (server jobs included), jobs ask for what they load, the executor plugin's pitfalls are avoided, and
the cost preview prints (s3core plan)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from functools import partial

import pytest
from workflow_run import ROOT, planned_jobs, snakemake

from s3core.cluster.snakemake_profile import install_profile
from s3core.plan.experiment import plan_of_files
from s3core.plan.jobs import server_jobs, target_jobs
from s3core.plan.sizing import Loads, per_node_gpus

PROFILE = ROOT / "workflow" / "profiles" / "slurm"
PAPER = ROOT / "config" / "paper.yaml"


def loads(servers: str) -> int:
    """Jobs of the paper (server jobs too) that load a model or an index themselves."""
    paper = plan_of_files(PAPER, PROFILE, [f"servers={servers}"])
    jobs = target_jobs(paper) + server_jobs(paper)
    return sum(bool(job.load.models or job.load.indexes) for job in jobs)


def test_each_model_and_index_is_loaded_by_few_jobs_on_the_cluster():
    assert loads("per_run_slurm") <= 200 < loads("per_job")
    paper = plan_of_files(PAPER, PROFILE)
    infer = [job for job in target_jobs(paper) if job.stage == "infer"]
    assert infer and not [job for job in infer if job.load != Loads() or job.resources["gpu"]]  # all served


@pytest.mark.slow
def test_the_dry_run_paper_asks_for_what_its_jobs_load():
    run = snakemake("all", "--profile", str(PROFILE), "--configfile", str(PAPER), "--dry-run", "--forceall")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_jobs(run.stdout)
    paper = plan_of_files(PAPER, PROFILE)
    planned = Counter(job.rule for job in target_jobs(paper))
    assert Counter(job["rule"] for job in jobs if job["rule"] != "all") == planned  # the plan is the DAG
    resources = [dict(re.findall(r"(\w+)=([^,]+)", job.get("resources", ""))) for job in jobs]
    base = paper.config["resources"]["default"]["mem_mb"]  # a job's memory besides what it loads
    api = [r for job, r in zip(jobs, resources) if "generator=claude" in job.get("wildcards", "")]
    assert api and all(r["gpu"] == "0" and int(r["mem_mb"]) == base for r in api)
    no_index = [r for job, r in zip(jobs, resources) if job["rule"] in ("infer_direct", "infer_cot")]
    assert no_index and all(int(r["mem_mb"]) == base for r in no_index)
    dense = [r for job, r in zip(jobs, resources) if job["rule"] == "index" and "kind=dense" in job["wildcards"]]
    assert dense and all(int(r["mem_mb"]) > 60_000 for r in dense)  # the job that joins or imports the vectors
    assert not [r for r in resources if int(r.get("gpu", 0)) and ("tasks" in r or "tasks_per_gpu" in r)]


def test_a_job_over_several_nodes_asks_for_its_gpus_per_node():
    assert per_node_gpus({"gpu": 16, "nodes": 2, "mem_mb": 1}) == {"nodes": 2, "mem_mb": 1, "gres": "gpu:8"}
    assert per_node_gpus({"gpu": 8, "nodes": 1}) == {"gpu": 8, "nodes": 1}


def test_the_cost_preview_prints_the_papers_table():
    command = [sys.executable, "-m", "s3core.cli", "plan", "--configfile", str(PAPER), "--profile", str(PROFILE)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "| evaluate | 2,994 |" in out and "| infer | 998 | 0 |" in out and "ppo_step_minutes = 5.7" in out


def test_the_preview_takes_snakemakes_spelling_of_configs_profiles_and_overrides(tmp_path):
    """Several --configfile (merged in order), a profile by name (as installed), --config; a missing file named."""
    smoke = tmp_path / "smoke.yaml"
    smoke.write_text("eval:\n  methods: [direct]\n")
    home = tmp_path / "xdg"
    install_profile(PROFILE, "slurm", config_home=home / "snakemake")
    base = [sys.executable, "-m", "s3core.cli", "plan", "--profile", "slurm", "--config", "servers=per_job"]
    env = {**os.environ, "XDG_CONFIG_HOME": str(home)}
    run = partial(subprocess.run, capture_output=True, text=True, cwd=ROOT, env=env)
    out = run([*base, "--configfile", str(PAPER), str(smoke)], check=True).stdout
    assert "servers `per_job`" in out and "| infer | 11 |" in out  # direct alone, on the eleven sets
    missing = run([*base, "--configfile", str(tmp_path / "nope.yaml")])
    assert missing.returncode != 0 and f"--configfile {tmp_path / 'nope.yaml'}: no such file" in missing.stderr

"""Multi-node training's Ray cluster: the plan for an allocation (dry run), the training rule that wraps itself in
it, and a real one-node Ray cluster started with `srun --overlap` inside a job of the local SLURM cluster."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_run import ROOT, snakemake

from s3core.cluster.ray_cluster import describe, plan_for_allocation
from s3core.config.schema import check_across_keys, validate
from s3core.errors import ConfigError, S3Error

pytestmark = pytest.mark.slow  # starts Ray clusters

ALLOCATION = {"SLURM_JOB_ID": "4242", "SLURM_CPUS_ON_NODE": "32", "SLURM_GPUS_ON_NODE": "4"}


def running_ray_processes() -> list[str]:
    """Ray's daemons still running here (zombies that wait for PID 1 to reap them do not count)."""
    pids = subprocess.run(["pgrep", "raylet|gcs_server"], capture_output=True, text=True).stdout.split()
    states = []
    for pid in pids:
        try:
            states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
        except OSError:
            continue
    return [state for state in states if state != "Z"]


def test_plan_puts_the_head_on_one_node_and_a_worker_on_each_other():
    plan = plan_for_allocation(ALLOCATION, ["gpu01", "gpu02", "gpu03"])
    assert plan.head == "gpu01" and plan.workers == ("gpu02", "gpu03") and plan.port != plan.client_port
    head, *workers, run = describe(plan, ["s3core", "train", "--out", "x"]).splitlines()
    assert head.startswith("srun --overlap --nodes=1 --ntasks=1 --nodelist=gpu01 ")
    assert " start --head " in head and f"--port={plan.port}" in head and "--temp-dir=/tmp/ray-4242" in head
    for node, line in zip(plan.workers, workers):
        assert line.startswith(f"srun --overlap --nodes=1 --ntasks=1 --nodelist={node} ")
        assert f" start --address={plan.address}" in line and "--num-gpus=4 " in line and "--num-cpus=32 " in line
    assert run == f"RAY_ADDRESS={plan.address} s3core train --out x"


@pytest.mark.skipif(not shutil.which("scontrol"), reason="needs SLURM's scontrol (scripts/local-slurm-up.sh)")
def test_plan_reads_the_compressed_node_list():
    plan = plan_for_allocation({**ALLOCATION, "SLURM_JOB_NODELIST": "gpu[07-09]"})
    assert (plan.head, plan.workers) == ("gpu07", ("gpu08", "gpu09"))


def test_outside_an_allocation_ray_run_says_how_to_use_it():
    with pytest.raises(S3Error, match="SLURM_JOB_NODELIST is not set"):
        plan_for_allocation({})


def test_several_training_nodes_need_an_engine_that_uses_them():
    config = validate(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    config["resources"]["train_s3"]["nodes"] = 2
    config["train"].update(engine="local", verl={**config["train"]["verl"], "generator_gpus": 0})
    with pytest.raises(ConfigError, match=r"resources\.train_s3\.nodes.*train\.engine 'verl'"):
        check_across_keys(config)
    config["train"]["engine"] = "verl"
    assert check_across_keys(config) is config


def test_multi_node_training_rule_starts_a_ray_cluster_first(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    config["train"] = {**config.get("train", {}), "engine": "verl", "verl": {"generator_gpus": 0}}
    config["resources"]["train_s3"].update(nodes=2, gpu=16)
    path = tmp_path / "multinode.yaml"
    path.write_text(yaml.safe_dump(config))
    run = snakemake(
        "--configfile",
        str(path),
        "--dry-run",
        "--forceall",
        "--printshellcmds",
        "--cores",
        "2",
        "results/paper/train/s3/searcher",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    job = run.stdout.split("rule train_s3:", 1)[1].split("\n\n", 1)[0]
    assert "nodes=2" in job and "gres=gpu:8" in job and "gpu=16" not in job  # GPUs per node, not for the job
    assert " s3core ray-run -- s3core --threads" in run.stdout.split("rule train_s3:", 1)[1]


def test_one_node_verl_training_lets_verl_start_its_own_ray():
    run = snakemake(
        "--configfile",
        str(ROOT / "config" / "paper.yaml"),
        "--dry-run",
        "--forceall",
        "--printshellcmds",
        "--cores",
        "2",
        "results/paper/train/s3/searcher",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    job = run.stdout.split("rule train_s3:", 1)[1]
    assert "gpu=8" in job.split("\n\n", 1)[0] and "ray-run" not in job
    sections = re.search(r"--config '?([^\s']+)", job)[1]  # the job's sections, in the plan's file
    assert json.loads((ROOT / sections).read_text())["train"]["engine"] == "verl"


def test_a_real_ray_cluster_in_a_slurm_job(slurm, tmp_path):
    """One node here, so the head only; the command sees the cluster, and nothing of it outlives the job."""
    probe = "import ray; ray.init(); print('ray cpus', ray.cluster_resources()['CPU'])"
    s3core = str(Path(sys.executable).with_name("s3core"))
    job = subprocess.run(
        [
            "timeout",
            "-k",
            "10",
            "300",
            "srun",
            "--nodes=1",
            "--ntasks=1",
            "--cpus-per-task=2",
            "--job-name=ray-test",
            s3core,
            "ray-run",
            "--",
            sys.executable,
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert job.returncode == 0, (job.stdout + job.stderr)[-3000:]
    assert "ray cpus 2.0" in job.stdout
    assert not running_ray_processes(), "Ray processes outlived the job"
    assert not list(Path("/tmp").glob("ray-[0-9]*"))

"""The report's GPU-hours used beside the preview: each job's benchmark file (a run server's: its time held) times
the GPUs it asked for, per stage (the servers' records: tests/test_run_services.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from s3core.plan.cost import preview, timed_jobs
from s3core.plan.experiment import plan_of_files
from s3core.reporting.gpu_hours import job_seconds, write_gpu_hours

#: Snakemake's benchmark columns (one row per repeat)
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def benchmark(path, *seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t1\n" for s in seconds))
    return str(path)


def stage(name, jobs, expected, requested):
    return {"stage": name, "jobs": jobs, "loads": 0, "gpu_hours": expected, "requested_gpu_hours": requested}


def test_job_seconds_reads_benchmarks_their_repeats_and_servers_time_held(tmp_path):
    assert job_seconds(tmp_path / "missing.tsv") is None
    assert job_seconds(tmp_path / "b.tsv") is None
    benchmark(tmp_path / "b.tsv", 1800, 1800)  # `benchmark: repeat(..., 2)`: both runs held the GPUs
    assert job_seconds(tmp_path / "b.tsv") == 3600
    (tmp_path / "held.tsv").write_text("s\th:m:s\trunning\n7200.0\t2:00:00\tFalse\n")  # a run server's
    assert job_seconds(tmp_path / "held.tsv") == 7200


def test_gpu_hours_used_per_stage_beside_the_preview(tmp_path):
    preview_ = {
        "target": "all",
        "servers": "per_run_slurm",
        "stages": [stage("infer", 3, 1.5, 12), stage("server", 1, 0.0, 24), stage("report", 1, 0.0, 0)],
        "total": stage("all", 5, 1.5, 36),
    }
    held = tmp_path / "server" / "qwen.tsv"
    held.parent.mkdir()
    held.write_text("s\th:m:s\trunning\n5400\t1:30:00\tTrue\n")
    jobs = [
        {"stage": "infer", "gpus": 2, "record": benchmark(tmp_path / "infer" / "a.tsv", 3600)},
        {"stage": "infer", "gpus": 0, "record": benchmark(tmp_path / "infer" / "b.tsv", 1800)},
        {"stage": "infer", "gpus": 1, "record": str(tmp_path / "infer" / "not-run.tsv")},
        {"stage": "server", "gpus": 2, "record": str(held)},
        {"stage": "report", "gpus": 0, "record": str(tmp_path / "report.tsv")},  # the report itself: not yet
    ]
    table = write_gpu_hours(preview_, jobs, tmp_path / "g.md", tmp_path / "g.csv").set_index("stage")
    assert table.loc["infer"].tolist() == [3, 2, 1.5, 2.0, 1.5, 12]
    assert table.loc["server"].tolist() == [1, 1, 1.5, 3.0, 0.0, 24]
    assert table.loc["report"].tolist() == [1, 0, 0.0, 0.0, 0.0, 0]
    assert table.loc["all"].tolist() == [5, 3, 3.0, 5.0, 1.5, 36]
    assert pd.read_csv(tmp_path / "g.csv").equals(table.reset_index())
    assert "target `all`, servers `per_run_slurm`" in (tmp_path / "g.md").read_text()


@pytest.mark.parametrize("profile", [None, "workflow/profiles/slurm"])
def test_every_job_of_the_preview_has_a_time_record(profile):
    plan = plan_of_files("config/paper.yaml", profile, [])
    jobs, cost = timed_jobs(plan), preview(plan)
    assert len(jobs) == cost["total"]["jobs"] and len({job["record"] for job in jobs}) == len(jobs)  # one each
    assert {job["stage"] for job in jobs} == {row["stage"] for row in cost["stages"]}
    records = [job["record"] for job in jobs]
    assert all(record.startswith(plan.paths.root) and "{" not in record for record in records)
    held = [job["record"] for job in jobs if job["stage"] == "server"]
    assert bool(held) == (profile is not None)
    assert all(record.startswith(f"{plan.paths.root}/benchmarks/server/") for record in held)
    assert f"{plan.paths.root}/benchmarks/evaluate/s3/qwen2.5-7b-instruct/nq.tsv" in records
    assert f"{plan.paths.root}/benchmarks/train_s3.tsv" in records

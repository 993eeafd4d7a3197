"""The training-cost table: the paper's Table 4 as data, our s3 run's minutes per step, steps, total and hardware
from its step log and its job's provenance record."""

import json

import pandas as pd

from s3core.data.jsonl import write_jsonl
from s3core.reporting.training_cost import hardware, our_training_cost, write_training_cost
from s3core.serving.provenance import job_record

STEPS = [{"step": s, "rollout_s": 240.0, "update_s": 102.0} for s in range(1, 21)]  # 5.7 minutes a step


def test_our_run_beside_the_papers_table_4(tmp_path):
    metrics, provenance = tmp_path / "metrics.jsonl", tmp_path / "train_s3.provenance.json"
    write_jsonl(metrics, STEPS)
    provenance.write_text(
        json.dumps(
            {
                "started": "2026-12-01T01:00:00+0000",
                "finished": "2026-12-01T03:00:00+0000",
                "gpus": ["NVIDIA H100 80GB HBM3"] * 8,
                "cpus": 64,
            }
        )
    )
    table = write_training_cost(metrics, provenance, tmp_path / "cost.md", tmp_path / "cost.csv").set_index(
        ["method", "source"]
    )
    ours = table.loc[("s3", "this run")]
    assert (ours.minutes_per_step, ours.steps, ours.total_minutes) == (5.7, 20, 120.0)  # wall time: 2 hours
    assert ours.hardware == "8 x NVIDIA H100 80GB HBM3"
    assert table.loc[("s3", "paper")].total_minutes == 114 and table.loc[("Search-R1", "paper")].steps == 2100
    assert table.loc[("s3", "paper"), "Search-R1 total / total"] == 33.2  # the paper's "~33x"
    assert ours["Search-R1 total / total"] == 31.5
    text = (tmp_path / "cost.md").read_text()
    row = [line for line in text.splitlines() if "this run" in line][0]
    assert [cell.strip() for cell in row.split("|")[1:-1]] == [
        "s3",
        "5.7",
        "20",
        "120",
        "8 x NVIDIA H100 80GB HBM3",
        "this run",
        "31.5",
    ]
    assert len(pd.read_csv(tmp_path / "cost.csv")) == 4


def test_a_verl_run_is_timed_by_its_whole_steps():
    rows = [{"step": 1, "timing_s/step": 300.0}, {"step": 2, "timing_s/step": 420.0}]
    [ours] = our_training_cost(rows, None).to_dict("records")
    assert (ours["minutes_per_step"], ours["steps"], ours["total_minutes"], ours["hardware"]) == (
        6.0,
        2,
        12.0,
        "unknown",
    )


def test_no_s3_training_leaves_our_row_not_run(tmp_path):
    table = write_training_cost(None, None, tmp_path / "cost.md", tmp_path / "cost.csv")
    assert list(table.source) == ["paper"] * 3 and "its row is not run" in (tmp_path / "cost.md").read_text()


def test_hardware_names_the_gpus_or_the_cpu_cores():
    assert hardware({"gpus": ["A100", "A100", "H100"]}) == "2 x A100 + 1 x H100"
    assert hardware({"gpus": [], "cpus": 2}) == "CPU (2 cores)"
    record = job_record(["s3core", "train"], "2026-12-01T00:00:00+0000", 0)
    assert record["gpus"] == [] and record["cpus"] >= 1  # this machine has no GPU

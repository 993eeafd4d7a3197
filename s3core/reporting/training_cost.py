"""The training-cost table (the paper's Table 4 beside ours): minutes per PPO step, steps and total minutes of this
run's s3 training, from its step log (`metrics.jsonl`: rollout and update seconds per step) and its job's
provenance record (wall time, the GPUs it saw), with the hardware next to every time."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from s3core.data.atomic import atomic_open
from s3core.data.jsonl import read_jsonl

COLUMNS = ["method", "minutes_per_step", "steps", "total_minutes", "hardware", "source"]


def paper_training_cost() -> pd.DataFrame:
    with files("s3core.resources").joinpath("paper_training_cost.csv").open() as handle:
        return pd.read_csv(handle, comment="#").assign(source="paper")


def hardware(provenance: dict[str, Any]) -> str:
    """ "8 x NVIDIA H100 80GB HBM3" (the GPUs the job saw), or the CPU cores it had."""
    gpus = Counter(provenance.get("gpus") or [])
    if gpus:
        return " + ".join(f"{count} x {name}" for name, count in gpus.items())
    return f"CPU ({provenance['cpus']} cores)" if provenance.get("cpus") else "unknown"


def step_seconds(row: dict[str, Any]) -> float:
    """A PPO step's seconds: the local trainer's rollout + update, or verl's whole step (`timing_s/step`)."""
    if "rollout_s" in row:
        return row["rollout_s"] + row["update_s"]
    return row.get("timing_s/step", float("nan"))


def our_training_cost(metrics: list[dict[str, Any]], provenance: dict[str, Any] | None) -> pd.DataFrame:
    """One row: this run's s3 training. Minutes per step: rollout + update (the paper's step); total: the training
    job's wall time from start to end (model loading and checkpoints included), else the steps' sum."""
    step_minutes = [step_seconds(row) / 60 for row in metrics]
    total = sum(step_minutes)
    if provenance:
        started, finished = (datetime.fromisoformat(provenance[key]) for key in ("started", "finished"))
        total = (finished - started).total_seconds() / 60
    mean = sum(step_minutes) / len(step_minutes) if step_minutes else float("nan")
    return pd.DataFrame(
        [
            {
                "method": "s3",
                "minutes_per_step": round(mean, 2),
                "steps": len(metrics),
                "total_minutes": round(total, 1),
                "hardware": hardware(provenance or {}),
                "source": "this run",
            }
        ]
    )


def write_training_cost(metrics: Path | None, provenance: Path | None, out_md: Path, out_csv: Path) -> pd.DataFrame:
    """training_cost.md and .csv: the paper's rows and ours ("not run" when this run trained no searcher)."""
    rows = [paper_training_cost()]
    if metrics and metrics.exists():
        record = json.loads(provenance.read_text()) if provenance and provenance.exists() else None
        rows.append(our_training_cost(read_jsonl(metrics), record))
    table = pd.concat(rows, ignore_index=True)[COLUMNS]
    search_r1 = table.query("method == 'Search-R1' and source == 'paper'").total_minutes.item()
    table["Search-R1 total / total"] = (search_r1 / table["total_minutes"]).round(1)
    shown = table.rename(columns={"minutes_per_step": "min/step", "total_minutes": "total min"})
    note = "" if (table.source == "this run").any() else "\nThis run trained no s3 searcher: its row is not run.\n"
    with atomic_open(out_md) as handle:
        handle.write(
            "# Training cost (the paper's Table 4 beside ours)\n\nMinutes per PPO step (rollout + update), "
            "steps, and total minutes (ours: the training job's wall time); hardware beside every time.\n\n"
            f"{shown.to_markdown(index=False)}\n{note}"
        )
    with atomic_open(out_csv) as handle:
        table.to_csv(handle, index=False)
    return table

"""The GPU-hours a run used beside what its preview (`s3core plan`) expected and requested: per stage, each job's
wall time from its Snakemake benchmark file (a run server's: the time it has been held, start-up included) times
the GPUs it asked for, which are what a cluster bills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from s3core.data.atomic import atomic_open

COLUMNS = ["stage", "jobs", "jobs timed", "hours (wall)", "GPU-hours used", "GPU-hours expected",
           "GPU-hours requested (limits)"]  # fmt: skip


def job_seconds(record: Path) -> float | None:
    """A job's seconds from its benchmark file (Snakemake's `s` column, summed over repeats; a run server's time
    held); None while it has none (not run)."""
    return float(pd.read_csv(record, sep="\t")["s"].sum()) if record.exists() else None


def gpu_hours_table(preview: dict[str, Any], jobs: list[dict[str, Any]]) -> pd.DataFrame:
    """A row per stage of `preview` and one for all: the jobs timed, their wall hours and GPU-hours beside the
    preview's expected and requested GPU-hours. `jobs`: each job's `stage`, `gpus` and timing `record`."""
    timed = pd.DataFrame(
        [{"stage": job["stage"], "gpus": job["gpus"], "s": job_seconds(Path(job["record"]))} for job in jobs],
        columns=["stage", "gpus", "s"],
    ).dropna()
    used = timed.assign(gpu_s=timed.gpus * timed.s).groupby("stage").agg(timed=("s", "size"), s=("s", "sum"),
                                                                         gpu_s=("gpu_s", "sum"))  # fmt: skip
    rows = []
    for stage in [*preview["stages"], preview["total"]]:
        mine = used.sum() if stage["stage"] == "all" else used.reindex([stage["stage"]]).fillna(0).iloc[0]
        values = [stage["jobs"], int(mine["timed"]), mine["s"] / 3600, mine["gpu_s"] / 3600]
        rows.append([stage["stage"], *values, stage["gpu_hours"], stage["requested_gpu_hours"]])
    return pd.DataFrame(rows, columns=COLUMNS)


def write_gpu_hours(preview: dict[str, Any], jobs: list[dict[str, Any]], out_md: Path, out_csv: Path) -> pd.DataFrame:
    """gpu_hours.md and .csv: the measured table with what its figures rest on."""
    table = gpu_hours_table(preview, jobs)
    with atomic_open(out_csv) as handle:
        table.to_csv(handle, index=False)
    with atomic_open(out_md) as handle:
        handle.write(
            "# GPU-hours: used beside the preview\n\nUsed: each job's wall time (its Snakemake benchmark file; a "
            "run server's time held, start-up included, so far if it still runs) times the GPUs it asked for. "
            f"Expected and requested: `s3core plan` for target `{preview['target']}`, servers "
            f"`{preview['servers']}`.\n\n{table.to_markdown(index=False, floatfmt=',.2f')}\n"
        )
    return table

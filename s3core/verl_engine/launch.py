"""`s3core train` with `train.engine: verl`: start what the agent loops need (retriever, frozen generator),
write verl's inputs, run verl's PPO trainer on the job's Ray cluster, then merge its last actor checkpoint into
the trained searcher folder and its logs into `metrics.jsonl` (the outputs of the local engine too)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from s3core.errors import S3Error
from s3core.generation import judge_name
from s3core.jsonl import read_jsonl, write_jsonl
from s3core.verl_engine.data import AGENT_NAME, write_training_parquet
from s3core.verl_engine.hydra_overrides import verl_overrides

AGENT_LOOP_CLASS = "s3core.verl_engine.agent_loop.S3AgentLoop"


class GpuPlan(NamedTuple):
    """How the job's GPUs are used: verl's cluster shape, and the devices of verl and of the reward generator
    when some are set aside for it (None: unchanged / shared)."""

    nodes: int
    gpus_per_node: int
    verl_devices: str | None
    generator_devices: str | None


def gpu_plan(env: dict[str, str], train: dict[str, Any]) -> GpuPlan:
    """Split the job's visible GPUs: the first `train.verl.generator_gpus` for the generator, the rest for verl
    (`train.verl.n_gpus_per_node` overrides verl's count), whose GPUs must divide the batch and the mini-batch
    (verl's rules: the batch is split over data-parallel ranks, and so is each mini-batch)."""
    verl = train["verl"]
    nodes = int(env.get("SLURM_JOB_NUM_NODES", "1"))
    visible = [d.strip() for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    reserved = verl["generator_gpus"]
    if reserved and reserved >= len(visible):
        raise S3Error(f"train.verl.generator_gpus is {reserved}, but the job sees {len(visible)} GPU(s) and verl "
                      "needs at least one more: raise resources.train_s3.gpu")
    rest = visible[reserved:]
    gpus = verl["n_gpus_per_node"] or len(rest)
    if gpus < 1:
        raise S3Error("train.engine 'verl' needs GPUs: none are visible (CUDA_VISIBLE_DEVICES is empty); "
                      "ask for them with resources.train_s3.gpu or set train.verl.n_gpus_per_node")
    for key in ("batch_size", "mini_batch_size"):
        if train[key] % (nodes * gpus):
            raise S3Error(f"verl splits train.{key} ({train[key]}) evenly over its {nodes * gpus} GPU(s) "
                          f"({nodes} node(s) x {gpus}); change resources.train_s3.gpu, train.verl.generator_gpus "
                          f"or train.{key}")
    if not reserved:
        return GpuPlan(nodes, gpus, None, None)
    return GpuPlan(nodes, gpus, ",".join(rest), ",".join(visible[:reserved]))


def reachable_host(nodes: int) -> str:
    """Where sidecars listen: loopback on one node, this host's name when workers on other nodes call them."""
    return "127.0.0.1" if nodes == 1 else socket.gethostname()


def reachable_settings(stack: ExitStack, name: str, settings: dict[str, Any], host: str,
                       devices: str | None) -> dict[str, Any]:
    """Generator `name`'s settings as rollout workers use them: a vLLM generator is started here (on `host`, on
    `devices` when GPUs are set aside for it) and handed over as an OpenAI endpoint; HF and OpenAI generators
    are loaded by each worker as configured."""
    if settings["backend"] != "vllm":
        return settings
    from s3core.generation.vllm import VLLMGenerator

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": devices} if devices else None
    generator = VLLMGenerator(name, settings, host, env)
    stack.callback(generator.close)
    return {**settings, "backend": "openai", "base_url": f"{generator.sidecar.url}/v1"}


def reachable_generators(stack: ExitStack, generators: dict[str, Any], generator: str, judge: dict[str, Any],
                         host: str, devices: str | None) -> dict[str, Any]:
    """The answering generator and the judge (one server when they are the same), as workers reach them."""
    names = {generator, judge_name(generator, judge)} - {None}
    return {name: reachable_settings(stack, name, generators[name], host, devices) for name in sorted(names)}


def write_agent_loops(path: Path, services_path: Path) -> Path:
    """verl's agent-loop registry file: s3's loop and the services file its workers load."""
    entry = {"name": AGENT_NAME, "_target_": AGENT_LOOP_CLASS, "services_path": str(services_path)}
    path.write_text(yaml.safe_dump([entry]))
    return path


def run_logged(command: list[str], log: Path, env: dict[str, str], what: str) -> None:
    """Run `command` with its output appended to `log`; a failure names the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        status = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env).returncode
    if status:
        raise S3Error(f"{what} exited with code {status}; see {log}\ncommand: {' '.join(command)}")


def merge_searcher(checkpoints: Path, steps: int, target: Path, log: Path) -> None:
    """verl's FSDP actor shards of step `steps` as a Hugging Face folder, renamed into place when complete."""
    actor = checkpoints / f"global_step_{steps}" / "actor"
    if not actor.is_dir():
        raise S3Error(f"verl left no actor checkpoint for step {steps} at {actor}; see {log}")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp", "--local_dir", str(actor),
               "--target_dir", str(partial)]
    run_logged(command, log, dict(os.environ), "verl's model merger")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def metric_rows(attempts: list[Path]) -> list[dict[str, Any]]:
    """One row per step from verl's file-logger lines (`{"step", "data"}`), later attempts (a resumed job)
    winning; `reward` is verl's mean sequence score."""
    by_step: dict[int, dict[str, Any]] = {}
    for path in attempts:
        for line in read_jsonl(path):
            by_step[line["step"]] = {"step": line["step"], "reward": line["data"].get("critic/score/mean"),
                                     **line["data"]}
    return [by_step[step] for step in sorted(by_step)]


def train_with_verl(pool: list[dict[str, Any]], spec: dict[str, Any], model: str, out: Path,
                    settings: dict[str, Any], search: dict[str, Any], plan: GpuPlan) -> list[dict[str, Any]]:
    """Run verl's PPO over `pool` as `plan` says; the services are already started and `spec` says how
    rollout workers reach them."""
    work = out / "verl"
    work.mkdir(parents=True, exist_ok=True)
    services_path = work / "services.json"
    services_path.write_text(json.dumps(spec, indent=1))
    parquet = write_training_parquet(pool, work / "train.parquet")
    agent_loops = write_agent_loops(work / "agent_loops.yaml", services_path)
    checkpoints = out / "checkpoints"
    overrides = verl_overrides(settings, search, model, parquet, agent_loops, checkpoints, plan.nodes,
                               plan.gpus_per_node)
    attempt = work / "logs" / f"metrics.{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    attempt.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VERL_FILE_LOGGER_PATH": str(attempt), "TENSORBOARD_DIR": str(out / "tensorboard")}
    if plan.verl_devices:
        env["CUDA_VISIBLE_DEVICES"] = plan.verl_devices
    log = work / "logs" / "verl.log"
    run_logged([sys.executable, "-m", "verl.trainer.main_ppo", *overrides], log, env, "verl's PPO trainer")
    merge_searcher(checkpoints, settings["steps"], out / "searcher", log)
    rows = metric_rows(sorted((work / "logs").glob("metrics.*.jsonl")))
    write_jsonl(out / "metrics.jsonl", rows)
    return rows

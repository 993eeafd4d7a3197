"""`s3core train` with `train.engine: verl`: start what the agent loops need (retriever, frozen generator),
write verl's inputs, run verl's PPO trainer on the job's Ray cluster, then merge its last actor checkpoint into
the trained searcher folder and its logs into `metrics.jsonl` (the outputs of the local engine too)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from s3core.config.sections import GeneratorConfig, JudgeConfig, SearchConfig, TrainConfig, to_dict
from s3core.config.training_fingerprint import fingerprint, guard
from s3core.data.atomic import atomic_folder
from s3core.data.jsonl import read_jsonl, write_jsonl
from s3core.errors import S3Error
from s3core.generation import judge_name
from s3core.search.reward import gain_shares
from s3core.verl_engine.data import AGENT_NAME, check_first_prompt, write_training_parquet
from s3core.verl_engine.hydra_overrides import verl_overrides

AGENT_LOOP_CLASS = "s3core.verl_engine.agent_loop.S3AgentLoop"


class GpuPlan(NamedTuple):
    """How the job's GPUs are used: verl's cluster shape, and the devices of verl and of the reward generator
    when some are set aside for it (None: unchanged / shared)."""

    nodes: int
    gpus_per_node: int
    verl_devices: str | None
    generator_devices: str | None


def gpu_plan(env: dict[str, str], train: TrainConfig) -> GpuPlan:
    """Split the job's visible GPUs: the first `train.verl.generator_gpus` for the generator, the rest for verl
    (`train.verl.n_gpus_per_node` overrides verl's count), whose GPUs must divide the batch and the mini-batch
    (verl's rules: the batch is split over data-parallel ranks, and so is each mini-batch)."""
    verl = train.verl
    nodes = int(env.get("SLURM_JOB_NUM_NODES", "1"))
    visible = [d.strip() for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    reserved = verl.generator_gpus
    if reserved and reserved >= len(visible):
        raise S3Error(
            f"train.verl.generator_gpus is {reserved}, but the job sees {len(visible)} GPU(s) and verl "
            "needs at least one more: raise resources.train_s3.gpu"
        )
    rest = visible[reserved:]
    gpus = verl.n_gpus_per_node or len(rest)
    if gpus < 1:
        raise S3Error(
            "train.engine 'verl' needs GPUs: none are visible (CUDA_VISIBLE_DEVICES is empty); "
            "ask for them with resources.train_s3.gpu or set train.verl.n_gpus_per_node"
        )
    check_batch_split(train, nodes * gpus)
    if not reserved:
        return GpuPlan(nodes, gpus, None, None)
    return GpuPlan(nodes, gpus, ",".join(rest), ",".join(visible[:reserved]))


def check_batch_split(train: TrainConfig, gpus: int) -> None:
    """verl's batch rules: the batch and each mini-batch split evenly over its GPUs, and each GPU's share splits
    into whole micro-batches (`train.micro_batch_size` sequences per GPU)."""
    micro = train.micro_batch_size
    for key, rows in (("batch_size", train.batch_size), ("mini_batch_size", train.mini_batch_size)):
        if rows % gpus:
            raise S3Error(
                f"verl splits train.{key} ({rows}) evenly over its {gpus} GPU(s); change "
                f"resources.train_s3.gpu (or nodes), train.verl.generator_gpus or train.{key}"
            )
        if (rows // gpus) % micro:
            raise S3Error(
                f"each of verl's {gpus} GPU(s) gets {rows // gpus} rows of train.{key} "
                f"({rows}), which train.micro_batch_size ({micro}) does not divide; use a divisor "
                f"of {rows // gpus}"
            )


def check_generator_gpus(generators: dict[str, GeneratorConfig], names: set[str], plan: GpuPlan) -> None:
    """A vLLM generator started here must not share verl's GPUs on one node (both claim most of their memory)."""
    served = sorted(name for name in names if generators[name].backend == "vllm")
    if served and plan.nodes == 1 and plan.generator_devices is None:
        raise S3Error(
            f"generator {served[0]!r} (backend vllm) would start on the GPUs verl trains on; set "
            "train.verl.generator_gpus to give it GPUs of its own, or serve it elsewhere (backend openai)"
        )


def check_pool(pool: list[dict[str, Any]], train: TrainConfig) -> None:
    """At least one batch of training questions."""
    if len(pool) < train.batch_size:
        raise S3Error(
            f"the training pool has {len(pool)} questions, fewer than one batch (train.batch_size "
            f"{train.batch_size}); raise assets.train.size or lower train.batch_size"
        )


def check_prompt_lengths(
    pool: list[dict[str, Any]], model: str, search: SearchConfig, prompt_file: str | None, limit: int
) -> None:
    """Every searcher's first prompt fits verl's prompt length (verl would drop a longer one and train on)."""
    from s3core.search.episode import Episode
    from s3core.search.hf_policy import load_tokenizer
    from s3core.search.prompt import load_prompt
    from s3core.search.reward import initial_docs

    tokenizer, prompt = load_tokenizer(model), load_prompt(prompt_file)
    for item in pool:
        episode = Episode(item, initial_docs(item, search.initial_topk), tokenizer, search, prompt)
        check_first_prompt(item, episode.prompt_length, limit)


def reachable_host(nodes: int) -> str:
    """Where sidecars listen: loopback on one node, this host's name when workers on other nodes call them."""
    return "127.0.0.1" if nodes == 1 else socket.gethostname()


def reachable_config(
    stack: ExitStack, name: str, config: GeneratorConfig, host: str, devices: str | None
) -> GeneratorConfig:
    """Generator `name`'s config as rollout workers use it: a vLLM generator is started here (on `host`, on
    `devices` when GPUs are set aside for it) and handed over as an OpenAI endpoint; HF and OpenAI generators
    are loaded by each worker as configured."""
    if config.backend != "vllm":
        return config
    from s3core.generation.vllm import VLLMGenerator

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": devices} if devices else None
    generator = VLLMGenerator(name, config, host, env)
    stack.callback(generator.close)
    return replace(config, backend="openai", base_url=f"{generator.sidecar.url}/v1")


def reachable_generators(
    stack: ExitStack,
    generators: dict[str, GeneratorConfig],
    generator: str,
    judge: JudgeConfig,
    host: str,
    devices: str | None,
) -> dict[str, GeneratorConfig]:
    """The answering generator and the judge (one server when they are the same), as workers reach them."""
    return {
        name: reachable_config(stack, name, generators[name], host, devices)
        for name in sorted(answering(generator, judge))
    }


def answering(generator: str, judge: JudgeConfig) -> set[str]:
    """The generators training asks: the answering one and the judge."""
    judged_by = judge_name(generator, judge)
    return {generator} if judged_by is None else {generator, judged_by}


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
    """verl's FSDP actor shards of step `steps` as a Hugging Face folder, published when complete."""
    actor = checkpoints / f"global_step_{steps}" / "actor"
    if not actor.is_dir():
        raise S3Error(f"verl left no actor checkpoint for step {steps} at {actor}; see {log}")
    with atomic_folder(target) as partial:
        _merge(actor, partial, log)


def _merge(actor: Path, partial: Path, log: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "verl.model_merger",
        "merge",
        "--backend",
        "fsdp",
        "--local_dir",
        str(actor),
        "--target_dir",
        str(partial),
    ]
    run_logged(command, log, dict(os.environ), "verl's model merger")


def metric_rows(attempts: list[Path], episodes: list[Path]) -> list[dict[str, Any]]:
    """One row per step from verl's file-logger lines (`{"step", "data"}`) and the means of the agent loops'
    per-episode statistics (`{"step", ...}` lines), later attempts (a resumed job) winning; `reward` is verl's mean
    sequence score."""
    by_step: dict[int, dict[str, Any]] = {}
    for path in attempts:
        for line in read_jsonl(path):
            by_step[line["step"]] = {
                "step": line["step"],
                "reward": line["data"].get("critic/score/mean"),
                **line["data"],
            }
    for step, stats in episode_means(episodes).items():
        if step in by_step:
            by_step[step].update(stats)
    return [by_step[step] for step in sorted(by_step)]


def episode_means(paths: list[Path]) -> dict[int, dict[str, float]]:
    """Per step, the mean of each per-episode statistic and the GBR distribution; a later file's episodes of a step
    replace an earlier's."""
    steps: dict[int, list[dict[str, Any]]] = {}
    for path in paths:
        mine: dict[int, list[dict[str, Any]]] = {}
        for row in read_jsonl(path):
            mine.setdefault(row["step"], []).append(row)
        steps.update(mine)
    return {
        step: {
            **{key: sum(r[key] for r in rows) / len(rows) for key in rows[0] if key != "step"},
            **(gain_shares([r["gbr"] for r in rows]) if "gbr" in rows[0] else {}),
        }
        for step, rows in steps.items()
    }


def check_failures(path: Path) -> None:
    """Stop when an agent loop failed: verl's V1 trainer logs the error and trains on without the sample."""
    failed = read_jsonl(path) if path.exists() else []
    if failed:
        raise S3Error(
            f"{len(failed)} episode(s) failed during verl's training (first: question "
            f"{failed[0]['id']!r}: {failed[0]['error']}); all are listed in {path}"
        )


def local_or_hub(model: str) -> str:
    """A model folder here as an absolute path (Ray workers may run elsewhere); a hub id as it is."""
    return str(Path(model).resolve()) if Path(model).exists() else model


def ray_init_overrides(env: dict[str, str], nodes: int) -> list[str]:
    """On one node a Ray of verl's own (never one that RAY_ADDRESS names) with the CPUs SLURM gave the job; across
    nodes the cluster `s3core ray-run` started (RAY_ADDRESS)."""
    if nodes > 1:
        return []
    cpus = env.get("SLURM_CPUS_ON_NODE")
    return ["+ray_kwargs.ray_init.address=local"] + ([f"ray_kwargs.ray_init.num_cpus={cpus}"] if cpus else [])


def train_with_verl(
    pool: list[dict[str, Any]],
    spec: dict[str, Any],
    model: str,
    out: Path,
    train: TrainConfig,
    search: SearchConfig,
    plan: GpuPlan,
) -> list[dict[str, Any]]:
    """Run verl's PPO over `pool` as `plan` says; the services are already started and `spec` (config sections
    and addresses, written for the workers as JSON) says how rollout workers reach them. Every path verl's
    workers read is absolute (they may run elsewhere)."""
    out, model = out.resolve(), local_or_hub(model)
    spec = {**spec, "prompt_file": spec["prompt_file"] and str(Path(spec["prompt_file"]).resolve())}
    work, checkpoints = out / "verl", out / "checkpoints"
    check_pool(pool, train)
    check_prompt_lengths(pool, model, search, spec["prompt_file"], train.verl.max_prompt_length)
    guard(checkpoints, fingerprint(train, search, spec["reward"], model, pool), "global_step_*")
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    attempt = time.strftime("%Y%m%d-%H%M%S")
    failures, stats = logs / f"failures.{attempt}.jsonl", logs / f"episodes.{attempt}.jsonl"
    services_path = work / "services.json"
    services = {**to_dict(spec), "failures_path": str(failures), "stats_path": str(stats)}
    services_path.write_text(json.dumps(services, indent=1))
    parquet = write_training_parquet(pool, work / "train.parquet")
    agent_loops = write_agent_loops(work / "agent_loops.yaml", services_path)
    worker_env = {
        "VERL_FILE_LOGGER_PATH": str(logs / f"metrics.{attempt}.jsonl"),
        "TENSORBOARD_DIR": str(out / "tensorboard"),
    }
    overrides = verl_overrides(
        train, search, model, parquet, agent_loops, checkpoints, plan.nodes, plan.gpus_per_node, worker_env
    ) + ray_init_overrides(dict(os.environ), plan.nodes)
    env = {**os.environ, **worker_env}
    if plan.verl_devices:
        env["CUDA_VISIBLE_DEVICES"] = plan.verl_devices
    log = logs / "verl.log"
    run_logged([sys.executable, "-m", "verl.trainer.main_ppo", *overrides], log, env, "verl's PPO trainer")
    check_failures(failures)
    merge_searcher(checkpoints, train.steps, out / "searcher", log)
    rows = metric_rows(sorted(logs.glob("metrics.*.jsonl")), sorted(logs.glob("episodes.*.jsonl")))
    if not rows:
        raise S3Error(f"verl trained but wrote no step metrics to {logs}/metrics.*.jsonl (its file logger); see {log}")
    write_jsonl(out / "metrics.jsonl", rows)
    return rows

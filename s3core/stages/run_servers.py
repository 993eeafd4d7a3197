"""The run's servers of a plan (config `servers: per_run` or `per_run_slurm`): one vLLM server per `backend:
vllm` generator and per trained searcher that runs on vLLM, and one retriever server per index the run searches.
The workflow starts them when the run starts and stops them when it ends; with per_run_slurm each is a SLURM job
of its own (s3core.serving.slurm_server), else a child of the workflow's process (s3core.serving.run_servers)."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from s3core.config.sections import VLLMServerConfig
from s3core.generation.run_servers import ENV as GENERATORS_ENV
from s3core.generation.run_servers import generator_services, searcher_services
from s3core.generation.vllm import vllm_command
from s3core.plan import sizing
from s3core.plan.experiment import Plan
from s3core.serving.run_servers import RunServers, RunService
from s3core.serving.slurm_server import TOKEN_FILE, ServerJob, SlurmServer
from s3core.stages.services import RETRIEVERS_ENV, retriever_services, serve_command

RunServerKinds = list[tuple[RunServers, list[RunService]]]


def plan_services(plan: Plan) -> RunServerKinds:
    """Each kind of the run's servers (generators, retrievers) with the services the plan asks of it."""
    searchers = [replace(s, finished=partial(_all_exist, _searcher_outputs(plan, s.name))) for s in
                 searcher_services(plan.trained_searchers())]  # fmt: skip
    generators = generator_services(plan.settings().generators) + searchers
    indexes = [(kind, Path(index), Path(corpus)) for kind, index, corpus in plan.searched_indexes()]
    retrievers = retriever_services(indexes, plan.settings().retriever, Path(plan.paths.services_logs))
    held = None
    if plan.config["servers"] == "per_run_slurm":
        held = Path(plan.paths.benchmark("server")).parent  # each server job's time held: the cluster bills it
        jobs = server_jobs(plan)
        token = Path(plan.paths.services("")) / TOKEN_FILE  # written when the run starts its servers
        generators = [_as_job(s, jobs[s.name], plan.paths.services("generators"), token) for s in generators]
        retrievers = [_as_job(s, jobs[s.name], plan.paths.services("retrievers"), token) for s in retrievers]
    return [
        (RunServers(Path(plan.paths.services("generators")), GENERATORS_ENV, held), generators),
        (RunServers(Path(plan.paths.services("retrievers")), RETRIEVERS_ENV, held), retrievers),
    ]


def _searcher_outputs(plan: Plan, name: str) -> list[Path]:
    """The context files a trained searcher's server answers for (its run's inference on every set)."""
    run = name.removeprefix("searcher-")
    return [Path(plan.paths.contexts(run, dataset)) for dataset in plan.answered_sets(run)]


def _all_exist(paths: list[Path]) -> bool:
    return all(path.exists() for path in paths)


def _as_job(service: RunService, job: ServerJob, state_dir: str, token: Path) -> RunService:
    return replace(service, sidecar=partial(SlurmServer, job, Path(state_dir), token))


def server_jobs(plan: Plan) -> dict[str, ServerJob]:
    """The server job of each run service by name (servers: per_run_slurm), bound to its node's address."""
    settings = plan.settings()
    jobs = {
        name: _vllm_job(plan, name, generator.model, generator.vllm, generator.device)
        for name, generator in settings.generators.items()
        if generator.backend == "vllm"
    }
    for label, searcher in plan.trained_searchers().items():
        if searcher.inference == "vllm":
            name = f"searcher-{label}"
            jobs[name] = _vllm_job(plan, name, searcher.model, searcher.vllm, searcher.device)
    for kind, index, corpus in plan.searched_indexes():
        name = "-".join(["retriever", *Path(index).parts[-2:]])
        request = sizing.server_request(plan, sizing.retriever_server_gpus(plan, kind), (index,))
        jobs[name] = ServerJob(
            name,
            serve_command(kind, Path(index), Path(corpus), settings.retriever, host="{host}"),
            Path(plan.paths.services_logs) / f"{name}.log",
            role=f"retriever:{kind}",
            startup_timeout_s=settings.retriever.server.startup_timeout_s,
            **_slurm_request(request),
        )
    return jobs


def _vllm_job(plan: Plan, name: str, model: str, server: VLLMServerConfig, device: str) -> ServerJob:
    env = {**server.env, "VLLM_CACHE_ROOT": os.environ.get("VLLM_CACHE_ROOT", str(Path(server.log_dir) / "cache"))}
    request = sizing.server_request(plan, sizing.vllm_server_gpus(server.tensor_parallel_size, device))
    return ServerJob(
        name,
        vllm_command(model, server, host="{host}"),
        Path(server.log_dir) / f"{name}.log",
        role=f"generator:{name}",
        version_path="/version",
        startup_timeout_s=server.startup_timeout_s,
        env=env,
        **_slurm_request(request),
    )


def _slurm_request(request: dict[str, Any]) -> dict[str, Any]:
    """ServerJob's fields of a resources entry (gpu, mem_mb, runtime, slurm_partition, cpus_per_gpu)."""
    gpus = int(request.get("gpu", 0))
    return {
        "gpus": gpus,
        "cpus": max(1, gpus * int(request.get("cpus_per_gpu", 1))),
        "mem_mb": int(request["mem_mb"]),
        "runtime": int(request["runtime"]),
        "partition": request.get("slurm_partition"),
    }


def start(servers: RunServerKinds) -> None:
    for kind, services in servers:
        kind.start(services)


def stop(servers: RunServerKinds) -> None:
    for kind, _ in servers:
        kind.stop()

"""The run's servers of a plan (config `servers: per_run` or `per_run_slurm`; which ones: s3core.plan.servers):
the workflow starts them when the run starts and stops them when it ends; with per_run_slurm each is a SLURM job
of its own (s3core.serving.slurm_server), else a child of the workflow's process (s3core.serving.run_servers)."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from s3core.generation.run_servers import ENV as GENERATORS_ENV
from s3core.generation.run_servers import model_service
from s3core.generation.vllm import vllm_command
from s3core.plan import sizing
from s3core.plan.experiment import Plan
from s3core.plan.servers import RunServer
from s3core.serving.run_servers import RunServers, RunService
from s3core.serving.slurm_server import TOKEN_FILE, ServerJob, SlurmServer
from s3core.stages.services import RETRIEVERS_ENV, retriever_service, serve_command

RunServerKinds = list[tuple[RunServers, list[RunService]]]


def plan_services(plan: Plan) -> RunServerKinds:
    """Each kind of the run's servers (vLLM models, retrievers) with a service per server of the plan."""
    servers = plan.run_servers()
    kinds = [
        ("generators", GENERATORS_ENV, [server for server in servers if server.vllm]),
        ("retrievers", RETRIEVERS_ENV, [server for server in servers if server.kind]),
    ]
    slurm = plan.config["servers"] == "per_run_slurm"  # server jobs: each starts when a job asks, its time billed
    held = Path(plan.paths.benchmark("server")).parent if slurm else None
    return [
        (
            RunServers(Path(plan.paths.services(kind)), env, held, on_demand=slurm),
            [_run_service(plan, s, kind) for s in group],
        )
        for kind, env, group in kinds
    ]


def _run_service(plan: Plan, server: RunServer, kind: str) -> RunService:
    """One server's service: a child of the workflow's process, or (per_run_slurm) a SLURM job of its own."""
    service = _service(plan, server)
    if plan.config["servers"] != "per_run_slurm":
        return service
    token = Path(plan.paths.services("")) / TOKEN_FILE  # written when the run starts its servers
    state = Path(plan.paths.services(kind))
    return replace(service, sidecar=partial(SlurmServer, server_job(plan, server), state, token))


def _service(plan: Plan, server: RunServer) -> RunService:
    """The run service of one server, finished once every job that uses it is done (its outputs exist)."""
    if server.vllm is None:
        assert server.kind and server.corpus  # a retriever's
        settings = plan.settings().retriever
        logs = Path(plan.paths.services_logs)
        service = retriever_service(server.name, server.kind, Path(server.serves), Path(server.corpus), settings, logs)
    else:
        service = model_service(server.name, server.serves, server.vllm, server.role == "trained_searcher")
    return replace(service, finished=partial(_all_exist, [Path(output) for output in server.outputs]))


def _all_exist(paths: list[Path]) -> bool:
    return all(path.exists() for path in paths)


def server_job(plan: Plan, server: RunServer) -> ServerJob:
    """What the SLURM job of one run server runs and asks for."""
    request = _slurm_request(sizing.server_request(plan, server.load))
    if server.vllm is None:
        assert server.kind and server.corpus  # a retriever's
        retriever = plan.settings().retriever
        return ServerJob(
            server.name,
            serve_command(server.kind, Path(server.serves), Path(server.corpus), retriever, host="{host}"),
            Path(plan.paths.services_logs) / f"{server.name}.log",
            role=f"retriever:{server.kind}",
            startup_timeout_s=retriever.server.startup_timeout_s,
            **request,
        )
    vllm = server.vllm
    env = {**vllm.env, "VLLM_CACHE_ROOT": os.environ.get("VLLM_CACHE_ROOT", str(Path(vllm.log_dir) / "cache"))}
    return ServerJob(
        server.name,
        vllm_command(server.serves, vllm, host="{host}"),
        Path(vllm.log_dir) / f"{server.name}.log",
        role=f"generator:{server.name}",
        version_path="/version",
        startup_timeout_s=vllm.startup_timeout_s,
        env=env,
        **request,
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

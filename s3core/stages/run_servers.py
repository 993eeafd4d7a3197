"""The run's servers of a plan (config `servers: per_run`): one vLLM server per `backend: vllm` generator and per
trained searcher that runs on vLLM, and one retriever server per index the run searches; the workflow starts them
when the run starts and stops them when it ends (s3core.serving.run_servers holds the mechanism)."""

from __future__ import annotations

from pathlib import Path

from s3core.generation.run_servers import ENV as GENERATORS_ENV
from s3core.generation.run_servers import generator_services, searcher_services
from s3core.plan.experiment import Plan
from s3core.serving.run_servers import RunServers, RunService
from s3core.stages.services import RETRIEVERS_ENV, retriever_services


def plan_services(plan: Plan) -> list[tuple[RunServers, list[RunService]]]:
    """Each kind of the run's servers (generators, retrievers) with the services the plan asks of it."""
    generators = generator_services(plan.settings().generators) + searcher_services(plan.trained_searchers())
    indexes = [(kind, Path(index), Path(corpus)) for kind, index, corpus in plan.searched_indexes()]
    retrievers = retriever_services(indexes, plan.settings().retriever, Path(plan.paths.services_logs))
    return [
        (RunServers(Path(plan.paths.services("generators")), GENERATORS_ENV), generators),
        (RunServers(Path(plan.paths.services("retrievers")), RETRIEVERS_ENV), retrievers),
    ]


def start(servers: list[tuple[RunServers, list[RunService]]]) -> None:
    for kind, services in servers:
        kind.start(services)


def stop(servers: list[tuple[RunServers, list[RunService]]]) -> None:
    for kind, _ in servers:
        kind.stop()

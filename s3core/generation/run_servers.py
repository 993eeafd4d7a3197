"""The run's vLLM servers (s3core.serving.run_servers): one per `backend: vllm` generator for the whole workflow run,
started once its model folder exists (rule convert_llm may still have to build it), and one per trained searcher
that runs on vLLM at inference, started once its training has finished. Jobs find them in the folder named by
S3_GENERATOR_SERVERS: by generator name, or by the model a server serves."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from s3core.assets.hub import is_hub_id
from s3core.config.sections import GeneratorConfig, SearcherConfig
from s3core.generation.vllm import vllm_sidecar
from s3core.serving.run_servers import RunService, announcement, build_stamp, server_for, state_folder

ENV = "S3_GENERATOR_SERVERS"


def generator_services(generators: dict[str, GeneratorConfig]) -> list[RunService]:
    """A run server for each `backend: vllm` entry of `generators`."""
    return [
        RunService(
            name,
            generator.model,
            partial(_model_ready, generator.model),
            partial(vllm_sidecar, name, generator.model, generator.vllm),
            partial(_model_facts, generator.model),
        )
        for name, generator in generators.items()
        if generator.backend == "vllm"
    ]


def searcher_services(searchers: dict[str, SearcherConfig]) -> list[RunService]:
    """A run server for each trained searcher (its run's label: its `searcher` section, `model` the folder the
    training writes) that runs on vLLM at inference, started once Snakemake has marked the folder finished."""
    return [
        RunService(
            f"searcher-{label}",
            searcher.model,
            partial(_trained, searcher.model),
            partial(vllm_sidecar, f"searcher-{label}", searcher.model, searcher.vllm),
            partial(_model_facts, searcher.model),
        )
        for label, searcher in searchers.items()
        if searcher.inference == "vllm"
    ]


def served_models(generators: dict[str, GeneratorConfig], searchers: dict[str, SearcherConfig]) -> set[str]:
    """The models the run's vLLM servers serve: jobs that load no other model only wait on servers."""
    return {service.serves for service in generator_services(generators) + searcher_services(searchers)}


def _model_ready(model: str) -> bool:
    """A hub id is ready (the server fetches or finds it in the cache); a local folder once it holds a model."""
    return is_hub_id(model) or (Path(model) / "config.json").exists()


def _trained(model: str) -> bool:
    return build_stamp(model) is not None


def _model_facts(model: str) -> dict[str, Any]:
    return {"built_ns": None if is_hub_id(model) else build_stamp(model)}


def _current(server: dict[str, Any] | None, model: str) -> dict[str, Any] | None:
    """`server` if it serves `model` as the folder is now (not an earlier build of it), else None."""
    return (
        server
        if server and server["serves"] == model and server["built_ns"] == _model_facts(model)["built_ns"]
        else None
    )


def run_server(name: str, generator: GeneratorConfig) -> dict[str, Any] | None:
    """The run's server for generator `name` when it serves that generator's model (see `announcement`)."""
    folder = state_folder(ENV)
    return _current(announcement(folder, name, generator.vllm.startup_timeout_s) if folder else None, generator.model)


def run_server_for_model(model: str, timeout_s: float) -> dict[str, Any] | None:
    """The run's server of `model` (a generator's or a trained searcher's; see `announcement`), or None."""
    return _current(server_for(ENV, model, timeout_s), model)

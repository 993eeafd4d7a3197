"""The run's vLLM servers (s3core.serving.run_servers; which ones: s3core.plan.servers), each started once its
model is there (rule convert_llm may still have to build a folder, a training to write it). Jobs find them in the
folder named by S3_GENERATOR_SERVERS: by generator name, or by the model a server serves."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from s3core.assets.hub import is_hub_id
from s3core.config.sections import GeneratorConfig, VLLMServerConfig
from s3core.generation.vllm import vllm_sidecar
from s3core.serving.run_servers import RunService, announcement, build_stamp, server_for, state_folder

ENV = "S3_GENERATOR_SERVERS"


def model_service(name: str, model: str, server: VLLMServerConfig, trained: bool = False) -> RunService:
    """A run server of `model` on vLLM with settings `server`, started once the model is there: a hub id at once
    (the server fetches it or finds it in the cache), a folder once it holds a model, a trained searcher's (`trained`)
    once Snakemake has marked its training finished."""
    ready = _trained if trained else _model_ready
    return RunService(
        name,
        model,
        partial(ready, model),
        partial(vllm_sidecar, name, model, server),
        partial(_model_facts, model),
    )


def _model_ready(model: str) -> bool:
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

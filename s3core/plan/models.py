"""The hub models a run loads, fetched once before any job loads one (rule fetch_models)."""

from __future__ import annotations

from s3core.assets.hub import is_hub_id
from s3core.config.sections import JobConfig
from s3core.methods import get_method


def hub_models(config: JobConfig, methods: list[str]) -> list[str]:
    """The hub models a run of `methods` loads: the dense encoder, every generator a job serves (hf, vllm), the
    searcher each s3 method starts from and the baselines' own models."""
    models = [config.retriever.dense.encoder]
    models += [g.model for g in config.generators.values() if g.backend in ("hf", "vllm")]
    for name in methods:
        method = get_method(name)
        models += method.model_paths(config)
        if method.uses_searcher:
            models.append(config.searcher.released if name == "s3_released" else config.searcher.model)
    return [m for m in dict.fromkeys(models) if is_hub_id(m)]

"""The models the baselines drive: the reasoner (a configured generator) and their own policy models."""

from __future__ import annotations

from dataclasses import replace

from s3core.config.sections import DeepRetrievalConfig, JobConfig, SearchR1Config, parse
from s3core.errors import ConfigError
from s3core.generation import Generator, load_generator, served_generator
from s3core.methods import reasoner_name


def reasoner(config: JobConfig) -> Generator:
    """The generator that reasons for IRCoT and Search-o1: `baselines.reasoner`, else the first generator."""
    generators = config.generators
    if not generators:
        raise ConfigError("IRCoT and Search-o1 reason with a generator: pass --generators (the config section)")
    name = reasoner_name(config.baselines, generators)
    if name not in generators:
        raise ConfigError(
            f"config key 'baselines.reasoner' is {name!r}; allowed: a name in 'generators' ({sorted(generators)})"
        )
    return load_generator(name, generators[name])


def policy_model(method: str, own: SearchR1Config | DeepRetrievalConfig) -> Generator:
    """A method's own model (Search-R1's policy, DeepRetrieval's rewriter): on the workflow run's vLLM server of that
    model if it has one (e.g. the demo's, whose every model is its generator's), else an in-process HF generator."""
    from s3core.generation.run_servers import run_server_for_model

    entry = {"backend": "hf", "model": own.model, "max_new_tokens": own.max_new_tokens, "batch_size": own.batch_size}
    config = parse("generators", {method: entry})[method]
    if server := run_server_for_model(own.model, config.vllm.startup_timeout_s):
        return served_generator(method, replace(config, backend="vllm"), server)
    return load_generator(method, config)

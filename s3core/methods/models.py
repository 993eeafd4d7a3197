"""The models the baselines drive: the reasoner (a configured generator) and in-process policy models."""

from __future__ import annotations

from typing import Any

from s3core import config
from s3core.errors import ConfigError
from s3core.generation import Generator, load_generator
from s3core.methods import reasoner_name


def reasoner(settings: dict[str, Any]) -> Generator:
    """The generator that reasons for IRCoT and Search-o1: `baselines.reasoner`, else the first generator."""
    generators = settings["generators"]
    if not generators:
        raise ConfigError("IRCoT and Search-o1 reason with a generator: pass --generators (the config section)")
    name = reasoner_name(settings["baselines"], generators)
    if name not in generators:
        raise ConfigError(
            f"config key 'baselines.reasoner' is {name!r}; allowed: a name in 'generators' ({sorted(generators)})"
        )
    return load_generator(name, generators[name])


def policy_model(method: str, section: dict[str, Any]) -> Generator:
    """A method's own model (Search-R1's policy, DeepRetrieval's rewriter) as an in-process HF generator."""
    entry = {
        "backend": "hf",
        "model": section["model"],
        "max_new_tokens": section["max_new_tokens"],
        "batch_size": section["batch_size"],
    }
    return load_generator(method, config.section("generators", {method: entry})[method])

"""The typed config sections (s3core.config.sections) say what the schema says: the same keys, the same values."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from s3core.config import schema as config
from s3core.config.sections import SECTIONS, GeneratorConfig, SearchConfig, job_config, parse, section, to_dict
from s3core.errors import ConfigError


def _properties(schema: dict, node: dict) -> dict:
    """A schema node's properties, following a `$ref` into `$defs`."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node.get("properties", {})


def _mismatches(schema: dict, node: dict, cls: type, where: str) -> list[str]:
    """Keys the class and the schema node do not share, at every level of nested sections."""
    properties = _properties(schema, node)
    hints = typing.get_type_hints(cls)
    schema_only, class_only = sorted(set(properties) - set(hints)), sorted(set(hints) - set(properties))
    found = [f"{where}: schema only {schema_only}, class only {class_only}"] if schema_only or class_only else []
    for name, hint in hints.items():
        if dataclasses.is_dataclass(hint) and name in properties:
            found += _mismatches(schema, properties[name], hint, f"{where}.{name}")
    return found


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_each_class_names_the_schema_keys(name):
    schema = config.schema()
    node = schema["properties"][name]
    cls = SECTIONS[name]
    if name == "generators":
        node, cls = node["additionalProperties"], GeneratorConfig
    assert _mismatches(schema, node, cls, name) == []


@pytest.mark.parametrize("path", ["config/config.yaml", "config/paper.yaml"])
def test_sections_hold_the_validated_config(path):
    data = config.load(path)
    for name in SECTIONS:
        assert to_dict(section(name, data[name])) == data[name], name


def test_sections_are_typed_and_frozen():
    search = parse("search", {"max_turns": 2, "extra_search_round": False})
    assert isinstance(search, SearchConfig) and search.rounds == 2 and search.topk == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        search.topk = 3  # type: ignore[misc]
    generators = parse("generators", '{"g": {"backend": "vllm", "model": "m", "vllm": {"extra_args": ["--x"]}}}')
    assert generators["g"].vllm.extra_args == ("--x",) and generators["g"].vllm.max_model_len == 8192


def test_job_config_fills_absent_sections_and_names_bad_keys():
    job = job_config({"search": {"max_turns": 1}})
    assert job.search.max_turns == 1 and job.train.batch_size == 120 and job.generators == {}
    with pytest.raises(ConfigError, match="config key 'serach': not a job's section; allowed: retriever, "):
        job_config('{"serach": {}}')
    with pytest.raises(ConfigError, match="config key 'search.max_turns'"):
        job_config({"search": {"max_turns": "three"}})

"""The typed config sections (s3core.config.sections) say what the schema says: the same keys, the same values."""

from __future__ import annotations

import copy
import dataclasses
import typing

import pytest

from s3core.config import field_docs
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


def test_each_field_comment_is_the_schema_description():
    found = field_docs.stale(field_docs.SOURCE.read_text(encoding="utf-8"))
    assert found == [], f"{found}: run python -m s3core.config.field_docs --write"


def test_an_edited_description_makes_the_comment_stale_until_regenerated():
    schema = copy.deepcopy(config.schema())
    search = schema["properties"]["search"]["properties"]
    search["topk"]["description"] = "documents each search returns, " + "ranked by the retriever, " * 8
    del search["max_selected"]["description"]
    source = field_docs.SOURCE.read_text(encoding="utf-8")
    assert field_docs.stale(source, schema) == ["SearchConfig.topk", "SearchConfig.max_selected"]
    regenerated = field_docs.documented(source, schema)
    assert field_docs.stale(regenerated, schema) == []
    block = regenerated.split("class SearchConfig:", 1)[1].split("    initial_topk: int", 1)[1]
    topk_comment = block.split("    topk: int", 1)[0].splitlines()[1:]
    assert len(topk_comment) == 2 and topk_comment[0].startswith("    #: documents each search returns, ranked")
    assert topk_comment[1].endswith(" …") and all(len(line) <= 120 for line in topk_comment)
    assert "    #: " not in block.split("    topk: int", 1)[1].split("    max_selected: int", 1)[0]

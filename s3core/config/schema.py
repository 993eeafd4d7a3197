"""The one config: validation against the JSON schema (shared with Snakemake) with defaults filled in."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from s3core.config.overrides import merged
from s3core.data.qa import qa_sources
from s3core.data.traits import traits
from s3core.errors import ConfigError

SCHEMA_FILE = "config.schema.yaml"


@cache
def schema() -> dict[str, Any]:
    """The config schema shipped with the package (workflow/schemas links to the same file)."""
    text = resources.files("s3core.resources").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster per job


def _defaulting_validator() -> type:
    """A Draft 2020-12 validator that fills `default` values of missing properties."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def properties(validator, props, instance, subschema):
        if isinstance(instance, dict):
            for name, prop in props.items():
                if "default" in prop and name not in instance:
                    instance[name] = json.loads(json.dumps(prop["default"]))
        yield from validate_properties(validator, props, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": properties})


def _describe(error: jsonschema.ValidationError) -> str:
    """The key and what is wrong; a refused name says what a name may be, a reserved one why it is reserved."""
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "not" and hint:
        return f"config key '{key}': {error.instance!r} is reserved: {hint}"
    if error.validator == "pattern" and hint:
        return f"config key '{key}': {error.message} ({hint})"
    if error.validator == "oneOf" and all(set(alternative) == {"required"} for alternative in error.validator_value):
        keys = " or ".join(k for alternative in error.validator_value for k in alternative["required"])
        return f"config key '{key}': name exactly one of {keys}"
    return f"config key '{key}': {error.message}"


def validate(data: dict[str, Any], subschema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `data` (in place: defaults are filled) and return it; raise ConfigError naming the key."""
    validator = _defaulting_validator()(subschema or schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e) for e in errors))
    return data


def check_sources(assets: dict[str, Any]) -> None:
    """The QA sources fit the asset kind: one DPR file per set in the demo, FlashRAG files in the paper's run (a
    custom run's sets name files, which the schema checks, under names that carry no upstream set's scoring)."""
    if assets["kind"] == "custom":
        return _check_custom_names(assets)
    for key, spec in {"train": assets["train"], **{f"eval.{n}": s for n, s in assets["eval"].items()}}.items():
        paper = all(s.startswith(("flashrag:", "mirage:")) for s in qa_sources(spec))
        if assets["kind"] == "paper" and not paper:
            raise ConfigError(
                f"config key 'assets.{key}.source': assets.kind 'paper' reads "
                f"flashrag:<dataset>/<split> or mirage:<subset>, not {spec['source']!r}"
            )
        if assets["kind"] == "demo" and (paper or not isinstance(spec["source"], str)):
            raise ConfigError(
                f"config key 'assets.{key}.source': the demo reads one DPR file (nq_dev, nq_test, "
                f"...), not {spec['source']!r}"
            )


def _check_custom_names(assets: dict[str, Any]) -> None:
    """A set of your own is scored as general QA: a name that is an upstream source's would take that source's
    scoring (MIRAGE's sets: the judge alone) or sampling (PopQA's deduplication), so it is refused."""
    for name in assets["eval"]:
        if traits(name) != traits(""):
            raise ConfigError(
                f"config key 'assets.eval.{name}': {name!r} is an upstream set's name, whose rows are scored or "
                f"sampled as that set's ({traits(name)}); name your set otherwise, e.g. 'my_{name}'"
            )


def check_corpora(assets: dict[str, Any]) -> None:
    """MedCorp only in the paper's run, and never for the training pool (training searches the suite's Wikipedia)."""
    if assets["train"]["corpus"] != "wiki":
        raise ConfigError("config key 'assets.train.corpus': training searches the suite's Wikipedia; use 'wiki'")
    for name, spec in assets["eval"].items():
        if spec["corpus"] == "medcorp" and assets["kind"] != "paper":
            raise ConfigError(
                f"config key 'assets.eval.{name}.corpus': 'medcorp' is fetched from the hub, which "
                "needs assets.kind 'paper'; use 'wiki'"
            )


def check_across_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Rules the schema cannot say: QA sources and corpora that fit the asset kind, the released checkpoint only with
    its prompt, a judge-only reward only with a judge, several training nodes only for an engine that uses them, GPUs
    set aside for the reward generator only on one node, and upstream's prebuilt indexes only with the paper's corpus
    (and Lucene's only for Lucene); each ablation's sections valid."""
    check_sources(data["assets"])
    check_corpora(data["assets"])
    check_generator_names(data)
    if "s3_released" in data["eval"]["methods"] and data["searcher"]["prompt_file"] is None:
        raise ConfigError(
            "config key 'searcher.prompt_file': eval.methods has s3_released, whose checkpoint was "
            "trained with upstream's searcher prompt; put that text in a file ({question} and "
            "{initial_docs} where it takes them: make_prefix in pat-jj/s3 "
            "scripts/data_process/test_s3.py) and name it here"
        )
    if data["retriever"]["dense"]["source"] == "download" and data["assets"]["kind"] != "paper":
        raise ConfigError(
            "config key 'retriever.dense.source': 'download' imports upstream's e5 index of wiki-18, "
            "which needs assets.kind 'paper'; use 'build'"
        )
    bm25 = data["retriever"]["bm25"]
    if bm25["source"] == "download" and (bm25["engine"] != "pyserini" or data["assets"]["kind"] != "paper"):
        raise ConfigError(
            "config key 'retriever.bm25.source': 'download' imports upstream's Lucene index of wiki-18, "
            "which needs retriever.bm25.engine 'pyserini' and assets.kind 'paper'; use 'build'"
        )
    check_judge_reward(data["reward"], data["judge"], "reward.metric")
    nodes = data["resources"].get("train_s3", {}).get("nodes", 1)
    if nodes > 1 and data["train"]["engine"] == "local":
        raise ConfigError(
            f"config key 'resources.train_s3.nodes': {nodes} nodes, but train.engine 'local' trains "
            "in one process; use 1 node, or train.engine 'verl' for a Ray cluster across nodes"
        )
    if nodes > 1 and data["train"]["verl"]["generator_gpus"]:
        raise ConfigError(
            "config key 'train.verl.generator_gpus': GPUs for the reward generator are set aside on "
            f"one node only, but resources.train_s3.nodes is {nodes}; use 0 and give the generator "
            "a server of its own (generators.<name>.backend: openai)"
        )
    check_ablations(data)
    return data


def check_generator_names(data: dict[str, Any]) -> None:
    """Keys that name a generator name one of `generators`."""
    named = {
        "reward.generator": data["reward"]["generator"],
        "judge.generator": data["judge"]["generator"],
        "baselines.reasoner": data["baselines"]["reasoner"],
    }
    named |= {f"eval.generators[{i}]": name for i, name in enumerate(data["eval"].get("generators") or [])}
    for key, name in named.items():
        if name is not None and name not in data["generators"]:
            raise ConfigError(
                f"config key '{key}': {name!r} is not a generator; name one of generators: "
                f"{', '.join(data['generators'])}"
            )


def check_judge_reward(reward: dict[str, Any], judge: dict[str, Any], key: str) -> None:
    """A judge-only reward needs the judge."""
    if reward["metric"] == "judge" and not judge["enabled"]:
        raise ConfigError(
            f"config key '{key}': 'judge' rewards the LLM judge's verdict, but judge.enabled is "
            "false; enable the judge or choose genacc, span or em"
        )


def check_ablations(data: dict[str, Any]) -> None:
    """Each ablation's sections, its keys laid over the config's, are valid sections (unknown keys and bad values
    name `ablations.<name>.<section>.<key>`)."""
    for name, overrides in data["ablations"].items():
        sections = merged(data, overrides)
        try:
            for key, value in sections.items():
                section(key, value)
            check_judge_reward(sections["reward"], data["judge"], "reward.metric")
            check_generator_names({**data, **sections})
        except ConfigError as exc:
            raise ConfigError(under(f"ablations.{name}", str(exc))) from None


def suite_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Defaults that depend on `suite`, filled in before validation: each vLLM server's log folder (the searcher's
    serves the baselines' own models too: s3core.plan.servers)."""
    serving = [g for g in (data.get("generators") or {}).values() if isinstance(g, dict) and g.get("backend") == "vllm"]
    searcher = data.setdefault("searcher", {})
    if isinstance(searcher, dict):
        serving.append(searcher)
    for entry in serving:
        server = entry.setdefault("vllm", {})
        if isinstance(server, dict):
            server.setdefault("log_dir", f"results/{data.get('suite')}/logs/vllm")
    return data


def load(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} not found")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    try:
        return check_across_keys(validate(suite_defaults(data)))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def under(prefix: str, message: str) -> str:
    """A validation message about a section, its keys named from the top of the config (`prefix`.key)."""
    message = message.replace("config key '<top level>'", f"config key '{prefix}'")
    return re.sub(r"config key '(?!" + re.escape(prefix) + r"')", f"config key '{prefix}.", message)


def section(name: str, value: str | dict[str, Any]) -> dict[str, Any]:
    """Validate one top-level section (a dict or its JSON text, as rules pass it) with defaults."""
    data = json.loads(value) if isinstance(value, str) else dict(value)
    sub = schema()["properties"][name]
    try:
        return validate(data, {**sub, "$defs": schema().get("$defs", {})})
    except ConfigError as exc:
        raise ConfigError(under(name, str(exc))) from None

"""The experiment a validated config asks for, built once: its sets and corpora, generators, methods and s3 runs,
the naive-RAG caches they train from, the indexes and models each job loads, and every job's inputs, arguments,
sections and core policy. The workflow's rules read it through thin adapters (`workflow/rules/common.smk`); the CLI,
the table and the report read the same plan."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from s3core.assets.hub import is_hub_id
from s3core.assets.paper import prebuilt_index_args
from s3core.config import schema
from s3core.config.overrides import deep_update
from s3core.config.sections import SECTIONS, JobConfig, job_config, parse
from s3core.errors import ConfigError
from s3core.methods import Method, get_method, method_name
from s3core.methods.registry import registry
from s3core.plan import scheduling, sizing
from s3core.plan.job_sections import VERB_SECTIONS, content_file
from s3core.plan.models import hub_models
from s3core.plan.paths import Paths
from s3core.plan.runs import S3Run, cache_names, s3_runs
from s3core.plan.servers import RunServer, run_servers


@dataclass(frozen=True)
class Cache:
    """A naive-RAG cache: its `name`, the reward `generator` that answers it, the first `run` that trains from it
    (its settings make it) and its `path`."""

    name: str
    generator: str
    run: S3Run
    path: str


@dataclass(frozen=True, eq=False)
class Plan:
    """What one workflow run consists of (see `plan`); derived facts are computed on demand and cached."""

    config: dict[str, Any]
    paths: Paths
    #: evaluation set -> the corpus it searches (wiki, the suite's Wikipedia; medcorp)
    set_corpus: dict[str, str]
    #: the trained searchers: s3, each ablation (s3.<name>), each once per seed (.seed<N>)
    runs: dict[str, S3Run]
    #: run label -> the naive-RAG cache it trains from
    caches: dict[str, Cache]

    # --- what is run -----------------------------------------------------------------------------------------

    @property
    def datasets(self) -> list[str]:
        return list(self.set_corpus)

    @property
    def corpora(self) -> list[str]:
        """The corpora in use, wiki first (training searches it too)."""
        return list(dict.fromkeys(["wiki", *self.set_corpus.values()]))

    @property
    def generators(self) -> list[str]:
        """The generators that answer: config `eval.generators`, else every one of `generators`."""
        return list(self.config["eval"].get("generators") or self.config["generators"])

    @property
    def methods(self) -> list[str]:
        """config `eval.methods`."""
        return list(self.config["eval"]["methods"])

    @property
    def eval_methods(self) -> list[str]:
        """Every method label that gets contexts, answers and a table row: eval.methods, s3's other runs after s3."""
        return [label for m in self.methods for label in (list(self.runs) if m == "s3" else [m])]

    @property
    def evaluated_runs(self) -> list[str]:
        """The training runs whose searchers are evaluated (all of them when eval.methods has s3)."""
        return list(self.runs) if "s3" in self.methods else []

    @property
    def fetches_models(self) -> bool:
        """The paper's run fetches every hub model it loads into the Hugging Face cache once, before any job."""
        return bool(self.config["assets"]["kind"] == "paper")

    # --- a method's settings and what its jobs load ----------------------------------------------------------

    @cache  # noqa: B019 (one plan per workflow run; it lives as long as the run)
    def settings(self, label: str | None = None) -> JobConfig:
        """The typed config sections `label` runs with: an s3 run's own over the config's (None: the config's)."""
        return job_config(self.sections(*SECTIONS, run=label))

    def sections(self, *names: str, run: str | None = None) -> dict[str, Any]:
        """The config sections `names`, an s3 run's own (`run`) over the config's."""
        own = self.runs[run].sections if run in self.runs else {}
        merged = {**self.config, **own}
        return {name: merged[name] for name in names}

    def verb_sections_file(self, verb: str, run: str | None = None) -> str:
        """The file of the sections `verb` reads (an s3 run's own), written once per content."""
        return self.json_file(self.sections(*VERB_SECTIONS[verb], run=run))

    def json_file(self, data: Any) -> str:
        """A file under the run's `plan/jobs/` that holds `data` (a job's config sections, its other JSON arguments)."""
        return content_file(self.paths.plan_file("jobs"), data)

    def method(self, label: str) -> Method:
        return get_method(method_name(label))

    def retriever_kind(self, label: str) -> str | None:
        return self.method(label).index_kind(self.settings(label))

    def searcher_model(self, label: str) -> str:
        """The searcher an s3 method runs: a trained run's for s3 and its ablations and seeds, upstream's for
        s3_released, the base model for s3_step0."""
        if label in self.runs:
            return self.paths.searcher(label)
        searcher = self.config["searcher"]
        return str(searcher["released"] if label == "s3_released" else searcher["model"])

    def method_loads(self, label: str) -> list[str]:
        """The models a method's inference loads: its reasoner's and own, and its searcher."""
        method = self.method(label)
        searcher = [self.searcher_model(label)] if method.uses_searcher else []
        return method.model_paths(self.settings(label)) + searcher

    def answered_sets(self, label: str) -> list[str]:
        """The sets `label` answers: all of them, or, for a method that retrieves nothing, those on wiki (its
        answers on a set's copy searched in MedCorp would be the same)."""
        kind = self.retriever_kind(label)
        return [d for d in self.datasets if kind or self.set_corpus[d] == "wiki"]

    def all_answers(self) -> list[str]:
        return [
            self.paths.answers(label, generator, dataset)
            for label in self.eval_methods
            for generator in self.generators
            for dataset in self.answered_sets(label)
        ]

    def reward_generator(self, run: str) -> str:
        """The frozen generator that answers during a run's training (reward.generator, else the first one)."""
        return str(self.runs[run].sections["reward"]["generator"] or next(iter(self.config["generators"])))

    def judge_of(self, generator: str) -> str:
        """The generator that judges `generator`'s answers (judge.generator, else itself)."""
        return str(self.config["judge"]["generator"] or generator)

    def cache_of(self, generator: str, name: str) -> Cache:
        """The naive-RAG cache named `name` of reward generator `generator`."""
        return next(c for c in self.caches.values() if (c.generator, c.name) == (generator, name))

    # --- models and indexes ----------------------------------------------------------------------------------

    def built_models(self, *paths: str) -> list[str]:
        """What loading `paths` waits for: the model folders this workflow builds (the converted demo LLM, the
        trained searchers) and, in the paper's run, the fetch of the hub models into the Hugging Face cache."""
        fetched = [self.paths.models_manifest] if self.fetches_models and any(map(is_hub_id, paths)) else []
        built = {self.paths.llm, *map(self.paths.searcher, self.runs)}
        return sorted(set(paths) & built) + fetched

    def hub_models(self) -> list[str]:
        """The hub models the run loads (rule fetch_models)."""
        return hub_models(self.settings(), self.methods)

    def generator_loads(self, name: str) -> list[str]:
        """The model a generator's job loads (hf) or has served (vllm); none for a remote API."""
        generator = self.config["generators"][name]
        return [generator["model"]] if generator["backend"] in ("hf", "vllm") else []

    def generator_models(self, generator: str) -> list[str]:
        """Model folders built here that answering with `generator` (and its judge) reads."""
        models = self.config["generators"]
        return self.built_models(models[generator]["model"], models[self.judge_of(generator)]["model"])

    def training_models(self, run: str) -> list[str]:
        """Model folders built here that a run's training reads: the searcher's start, reward generator, judge."""
        reward = self.reward_generator(run)
        models = self.config["generators"]
        return self.built_models(
            self.runs[run].sections["searcher"]["model"],
            models[reward]["model"],
            models[self.judge_of(reward)]["model"],
        )

    @property
    def prebuilt_index(self) -> dict[str, list[str]]:
        """wiki-18's indexes imported from upstream's (retriever.<kind>.source: download): kind -> the `s3core
        index` arguments naming the downloaded files."""
        return prebuilt_index_args(self.config["assets"], parse("retriever", self.config["retriever"]))

    def prebuilt(self, corpus: str, kind: str) -> list[str]:
        """The `s3core index` arguments of a wiki-18 index imported from upstream's, else []."""
        return self.prebuilt_index.get(kind, []) if corpus == "wiki" else []

    def dense_shards(self, corpus: str) -> list[str]:
        """The shard files a sharded dense index of `corpus` is joined from ([] when one job encodes it or it is
        imported)."""
        shards = self.config["retriever"]["dense"]["shards"]
        if shards == 1 or self.prebuilt(corpus, "dense"):
            return []
        return [self.paths.shard(corpus, shard) for shard in range(shards)]

    def index_inputs(self, corpus: str, kind: str) -> list[str]:
        """What an index job waits for besides its corpus: a sharded build's shard files, and the data manifest when
        the index is imported from downloaded files (not outputs, so a failed download deletes no finished piece)."""
        shards = self.dense_shards(corpus) if kind == "dense" else []
        return shards + ([self.paths.data_manifest] if self.prebuilt(corpus, kind) else [])

    def index_source(self, corpus: str, kind: str) -> list[str]:
        """`s3core index` arguments naming what the index is made from: the downloaded index or the shard files."""
        shards = self.dense_shards(corpus) if kind == "dense" else []
        return self.prebuilt(corpus, kind) or (["--shards", *shards] if shards else [])

    def encoder_models(self) -> list[str]:
        return self.built_models(self.config["retriever"]["dense"]["encoder"])

    def index_models(self, corpus: str, kind: str) -> list[str]:
        """The encoder, when an index job encodes passages itself."""
        encodes = kind == "dense" and not self.prebuilt(corpus, "dense") and not self.dense_shards(corpus)
        return self.encoder_models() if encodes else []

    @cache  # noqa: B019 (asked once per job's resources: computed once)
    def searched_indexes(self) -> tuple[tuple[str, str, str], ...]:
        """(kind, index folder, corpus file) of each index a job searches: the evaluated methods' on each set's
        corpus, and wiki's for training (its naive-RAG caches, its episodes)."""
        pairs = {
            (kind, self.set_corpus[dataset])
            for label in self.eval_methods
            if (kind := self.retriever_kind(label))
            for dataset in self.answered_sets(label)
        }
        pairs |= {(self.runs[run].sections["search"]["retriever"], "wiki") for run in self.evaluated_runs}
        return tuple(
            (kind, self.paths.index(corpus, kind), self.paths.corpus(corpus)) for kind, corpus in sorted(pairs)
        )

    # --- inference -------------------------------------------------------------------------------------------

    def infer_inputs(self, label: str, dataset: str) -> dict[str, Any]:
        """Inputs of inferring with `label` on `dataset`: the QA set, the index and corpus of the set's corpus when
        the method retrieves, and the model folders it loads that this workflow builds."""
        inputs: dict[str, Any] = {"qa": self.paths.qa(dataset)}
        if kind := self.retriever_kind(label):
            corpus = self.set_corpus[dataset]
            inputs.update(index=self.paths.index(corpus, kind), corpus=self.paths.corpus(corpus))
        inputs["models"] = self.built_models(*self.method_loads(label))
        return inputs

    def infer_args(self, label: str, dataset: str) -> list[str]:
        """`--index/--corpus` for a retrieving method, `--searcher-model` for an s3 method."""
        kind, corpus = self.retriever_kind(label), self.set_corpus[dataset]
        args = ["--index", self.paths.index(corpus, kind), "--corpus", self.paths.corpus(corpus)] if kind else []
        if self.method(label).uses_searcher:
            args += ["--searcher-model", self.searcher_model(label)]
        return args

    @cache  # noqa: B019
    def run_servers(self) -> tuple[RunServer, ...]:
        """The run's servers (s3core.plan.servers; none with servers per_job)."""
        return run_servers(self)

    @cache  # noqa: B019
    def run_served_models(self) -> frozenset[str] | None:
        """The models the run's vLLM servers serve (None without run servers: servers per_job)."""
        if self.config["servers"] == "per_job":
            return None
        return frozenset(server.serves for server in self.run_servers() if server.vllm)

    # --- scheduling ------------------------------------------------------------------------------------------

    def on_chain(self, label: str) -> bool:
        """Whether a method's jobs are on the long chain: a trained searcher's inference and evaluation."""
        return label in self.runs

    def priority(self, label: str) -> int:
        return scheduling.priority(self.on_chain(label))

    def nice(self, label: str) -> int:
        return scheduling.nice(self.on_chain(label), self.config["background_nice"])

    def job_cores(self, loads: list[str]) -> int:
        floor = int(self.config["servers"] == "per_run_slurm")  # a SLURM job holds at least one core
        return scheduling.job_cores(loads, self.run_served_models(), self.config["threads"], floor)

    def answering_cores(self, generator: str) -> int:
        """Cores of a job that answers with `generator` and its judge."""
        return self.job_cores(self.generator_loads(generator) + self.generator_loads(self.judge_of(generator)))

    def infer_cores(self, label: str) -> int:
        """Cores of inferring with `label`: its reasoner's and own models, and its searcher when on vLLM."""
        if self.method(label).uses_searcher and self.settings(label).searcher.inference != "vllm":
            return int(self.config["threads"])  # the searcher generates in the job's own process
        return self.job_cores(self.method_loads(label))

    def configured_resources(self, *names: str) -> dict[str, Any]:
        """Config `resources.default`, then each named entry over it."""
        merged: dict[str, Any] = {}
        for name in ("default", *names):
            merged.update(self.config["resources"].get(name, {}))
        return merged

    def job_resources(self, rule: str, wildcards: dict[str, str], *entries: str) -> dict[str, Any]:
        """Cluster resources of a job of `rule`: `resources.default`, then what the job loads itself asks for
        (s3core.plan.sizing), then the config's entries `entries` (the rule's, e.g. infer and infer_<method>)."""
        computed = sizing.request(sizing.rule_load(self, rule, wildcards), self)
        own = {key: value for name in entries for key, value in self.config["resources"].get(name, {}).items()}
        return sizing.per_node_gpus({**self.configured_resources(), **computed, **own})

    def training_launcher(self) -> list[str]:
        """What the training command runs under: with train.engine verl on several nodes, a Ray cluster across them
        (on one node verl starts its own Ray, seeing only the GPUs the training job leaves it)."""
        nodes = self.configured_resources("train_s3").get("nodes", 1)
        return ["s3core", "ray-run", "--"] if self.config["train"]["engine"] == "verl" and nodes > 1 else []

    # --- training and tables ---------------------------------------------------------------------------------

    def training_metrics(self) -> list[str]:
        """The step logs of the evaluated runs (the training-cost table reads them)."""
        return [self.paths.metrics(run) for run in self.evaluated_runs]

    def training_outputs(self) -> list[str]:
        """The training curves of the evaluated runs."""
        return [self.paths.curve(run) for run in self.evaluated_runs]

    def stage_answers(self, stage: str) -> list[str]:
        """The answer files a staged target (or `all`) tables (s3core.plan.jobs.STAGES)."""
        from s3core.plan.jobs import target_answers

        return target_answers(self, stage)

    def stage_runs(self, stage: str) -> list[str]:
        """The evaluated training runs whose answers a staged target tables (the first gives the training cost)."""
        answered = {Path(answer).parts[-3] for answer in self.stage_answers(stage)}
        return [run for run in self.evaluated_runs if run in answered]

    def s3_runs_sections(self) -> dict[str, dict[str, Any]]:
        """The evaluated runs' search, reward and train sections by label without seed (the rows of Tables 3, 5, 6
        and Figure 10 each fills), for `s3core table --s3-runs`."""
        runs = {self.runs[run].group: self.runs[run].sections for run in self.evaluated_runs}
        return {label: {k: s[k] for k in ("search", "reward", "train")} for label, s in runs.items()}


def plan_of_files(
    configfiles: Path | list[Path], profile: Path | None = None, overrides: list[str] | None = None
) -> Plan:
    """The plan Snakemake would build from `--configfile` (files merged in order), a profile folder's `config:`
    entries and `--config` overrides (`key=value`, values as YAML), validated as the Snakefile validates it."""
    data: dict[str, Any] = {}
    for configfile in configfiles if isinstance(configfiles, list) else [configfiles]:
        if not Path(configfile).is_file():
            raise ConfigError(f"--configfile {configfile}: no such file")
        deep_update(data, yaml.safe_load(Path(configfile).read_text()) or {})
    entries = list(overrides or [])
    if profile:
        settings = yaml.safe_load((Path(profile) / "config.yaml").read_text())
        entries = list(settings.get("config", [])) + entries
        defaults = {k: v for k, v in settings.get("default-resources", {}).items() if k in ("mem_mb", "runtime")}
        data.setdefault("resources", {}).setdefault("default", {})
        data["resources"]["default"] = {**defaults, **data["resources"]["default"]}  # as Snakemake's jobs get them
    for entry in entries:
        key, _, value = entry.partition("=")
        deep_update(data, {key: yaml.safe_load(value)})
    return plan(schema.check_across_keys(schema.validate(schema.suite_defaults(data))))


def check_methods(methods: list[str]) -> None:
    """Each of config `eval.methods` is a registered method (s3core.methods.registry)."""
    known = registry()
    if unknown := [m for m in methods if m not in known]:
        raise ConfigError(f"config key 'eval.methods': unknown method {unknown[0]!r}; allowed: {', '.join(known)}")


def plan(config: dict[str, Any]) -> Plan:
    """The plan of a validated config (defaults filled, checked across keys)."""
    check_methods(config["eval"]["methods"])
    paths = Paths.of_suite(config["suite"])
    runs = {run.label: run for run in s3_runs(config)}
    default_generator = next(iter(config["generators"]))
    names = cache_names(list(runs.values()), default_generator)
    caches: dict[str, Cache] = {}
    firsts: dict[tuple[str, str], S3Run] = {}
    for label, run in runs.items():
        generator = run.sections["reward"]["generator"] or default_generator
        first = firsts.setdefault((generator, names[label]), run)
        caches[label] = Cache(names[label], generator, first, paths.rag_cache(generator, names[label]))
    set_corpus = {name: spec["corpus"] for name, spec in config["assets"]["eval"].items()}
    return Plan(config, paths, set_corpus, runs, caches)

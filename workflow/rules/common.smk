# Helpers shared by the rules: result paths, config sections as JSON, and per-method inputs.
import json
import os
import re
import shlex
from dataclasses import replace
from functools import cache

from s3core.generation.run_servers import served_models
from s3core.methods import get_method, method_name
from s3core.plan.runs import cache_names, s3_runs
from s3core.assets.paper import prebuilt_index_args
from s3core.assets.hub import is_hub_id
from s3core.plan.models import hub_models
from s3core.config.sections import SECTIONS, job_config
from s3core.config.sections import parse as parse_section

RESULTS = f"results/{config['suite']}"
DATASETS = list(config["assets"]["eval"])
METHODS = config["eval"]["methods"]
GENERATORS = list(config["generators"])
#: Each evaluation set's corpus (assets.eval.<set>.corpus): wiki, the suite's Wikipedia, which training searches
#: too; medcorp, the paper's second corpus. The corpora in use, wiki first.
SET_CORPUS = {name: spec["corpus"] for name, spec in config["assets"]["eval"].items()}
CORPORA = list(dict.fromkeys(["wiki", *SET_CORPUS.values()]))
LLM_DIR = f"{RESULTS}/assets/llm"
#: The trained searchers: s3 itself, each of config `ablations` (s3.<name>), each once per seed (.seed<N>).
S3_RUNS = {run.label: run for run in s3_runs(config)}
#: Each run's naive-RAG cache name (runs whose initial search and reward agree share one)
CACHE_NAMES = cache_names(list(S3_RUNS.values()))
#: Every method label that gets contexts, answers and a table row: eval.methods, with s3's other runs after s3.
EVAL_METHODS = [
    label for m in METHODS for label in (list(S3_RUNS) if m == "s3" else [m])
]
# The paper's run fetches every hub model it loads into the Hugging Face cache once, before any job loads one.
FETCH_MODELS = config["assets"]["kind"] == "paper"
MODELS_MANIFEST = f"{RESULTS}/data/models.json"
# The indexes of wiki-18 imported from upstream's (retriever.<kind>.source: download) instead of built: kind ->
# `s3core index` arguments naming the files the download rule fetched into assets.download_dir.
PREBUILT_INDEX = prebuilt_index_args(
    config["assets"], parse_section("retriever", config["retriever"])
)
DATA_MANIFEST = f"{RESULTS}/data/manifest.json"
#: The report page (index.html, opens without a server) and its figures
REPORT_DIR = f"{RESULTS}/report"


wildcard_constraints:
    dataset="|".join(DATASETS),
    method="|".join(map(re.escape, EVAL_METHODS)),
    run="|".join(map(re.escape, S3_RUNS)),
    cache=r"train(\.[A-Za-z0-9_-]+)?",
    generator="|".join(GENERATORS),
    corpus="|".join(CORPORA),
    kind="bm25|dense",
    shard="[0-9]+",


#: The DAG's long chain (naive-RAG cache -> PPO -> each trained searcher's inference -> its evaluation) starts first
#: whenever jobs wait for cores or GPUs: everything else fits beside it.
CHAIN_PRIORITY = 10


def chain_priority(method):
    """A job's scheduling priority: the long chain's for a trained searcher's inference and evaluation."""
    return CHAIN_PRIORITY if method in S3_RUNS else 0


def job_nice(method):
    """How much a method's inference or evaluation job lowers its CPU and vLLM request priority: none on the
    chain, config background_nice off it."""
    return 0 if chain_priority(method) else config["background_nice"]


def train_dir(run):
    """A training run's folder: searcher/, metrics.jsonl, checkpoints/, curve.png."""
    return f"{RESULTS}/train/{run}"


def searcher_dir(run):
    return f"{train_dir(run)}/searcher"


def training_provenance(run):
    """A training job's provenance record (its wall time and GPUs, for the training-cost table)."""
    return f"{RESULTS}/logs/train_{run}.provenance.json"


def reward_generator(run):
    """The frozen generator that answers during a run's training (reward.generator, else the first one)."""
    return run.sections["reward"]["generator"] or GENERATORS[0]


def rag_cache(run):
    """The naive-RAG cache a run trains from (shared by the runs whose initial search and reward agree)."""
    return f"{RESULTS}/cache/rag/{reward_generator(run)}/{CACHE_NAMES[run.label]}.jsonl"


#: (generator, cache name) -> the first run that trains from that naive-RAG cache (its settings make it)
CACHE_RUNS = {}
for _run in S3_RUNS.values():
    CACHE_RUNS.setdefault((reward_generator(_run), CACHE_NAMES[_run.label]), _run)


def cache_run(wildcards):
    return CACHE_RUNS[(wildcards.generator, wildcards.cache)]


def corpus_path(corpus):
    return f"{RESULTS}/data/corpora/{corpus}.jsonl"


def index_path(corpus, kind):
    return f"{RESULTS}/index/{corpus}/{kind}"


def shard_path(corpus, shard):
    return f"{RESULTS}/index/{corpus}/dense.shards/{shard}.npy"


def prebuilt_index(corpus, kind):
    """The `s3core index` arguments of a wiki-18 index imported from upstream's, else []."""
    return PREBUILT_INDEX.get(kind, []) if corpus == "wiki" else []


def dense_shards(corpus):
    """The shard files a sharded dense index of `corpus` is joined from ([] when one job encodes it or it is
    imported)."""
    shards = config["retriever"]["dense"]["shards"]
    if shards == 1 or prebuilt_index(corpus, "dense"):
        return []
    return [shard_path(corpus, shard) for shard in range(shards)]


def index_inputs(wildcards):
    """Input function of the index rule: the shard files of a sharded dense build, and the data manifest when the
    index is imported from downloaded files (the files themselves are not outputs, so a failed download never
    deletes finished pieces)."""
    shards = dense_shards(wildcards.corpus) if wildcards.kind == "dense" else []
    return shards + (
        [DATA_MANIFEST] if prebuilt_index(wildcards.corpus, wildcards.kind) else []
    )


def index_source(wildcards):
    """`s3core index` arguments naming what the index is made from: the downloaded index or the shard files."""
    shards = dense_shards(wildcards.corpus) if wildcards.kind == "dense" else []
    return shlex.join(
        prebuilt_index(wildcards.corpus, wildcards.kind)
        or (["--shards", *shards] if shards else [])
    )


def job_resources(*names):
    """Cluster resources of a job: config `resources.default`, then each named entry over it."""
    merged = {}
    for name in ("default", *names):
        merged.update(config["resources"].get(name, {}))
    return merged


def job_json(*names, run=None):
    """The config sections a job reads, as one JSON object for `s3core <verb> --config` (an s3 run's own sections
    over the config's; stable key order)."""
    sections = {**config, **(run.sections if run else {})}
    return json.dumps({name: sections[name] for name in names}, sort_keys=True)


@cache
def method_config(label=None):
    """The typed config sections (s3core.config.sections) a method label runs with: an s3 run's own over the config's
    (no label: the config's)."""
    return job_config(job_json(*SECTIONS, run=S3_RUNS.get(label)))


def retriever_kind(method):
    return get_method(method_name(method)).index_kind(method_config(method))


def built_models(*paths):
    """What loading `paths` waits for: the model folders this workflow builds (the converted demo LLM, the trained
    searcher) and, in the paper's run, the fetch of the hub models into the Hugging Face cache.
    """
    fetched = (
        [MODELS_MANIFEST] if FETCH_MODELS and any(is_hub_id(p) for p in paths) else []
    )
    built = {LLM_DIR, *map(searcher_dir, S3_RUNS)}
    return sorted(set(paths) & built) + fetched


def index_models(wildcards):
    """Input function of the index and encode_shard rules: the encoder, when the job encodes passages."""
    dense = wildcards.kind == "dense"
    encodes = (
        dense
        and not prebuilt_index(wildcards.corpus, "dense")
        and not dense_shards(wildcards.corpus)
    )
    return encoder_models() if encodes else []


def encoder_models():
    return built_models(config["retriever"]["dense"]["encoder"])


def searcher_model(method):
    """The searcher an s3 method runs: a trained run's for `s3` and its ablations and seeds, upstream's for
    `s3_released`, the base model for `s3_step0`."""
    if method in S3_RUNS:
        return searcher_dir(method)
    return (
        config["searcher"]["released"]
        if method == "s3_released"
        else config["searcher"]["model"]
    )


def infer_inputs(method):
    """Input function for inferring with `method`: the QA set, the index and corpus of the set's corpus when the
    method retrieves, and the model folders it loads that this workflow builds (trained searcher, converted LLM).
    """

    def inputs(wildcards):
        paths = {"qa": f"{RESULTS}/data/qa/{wildcards.dataset}.jsonl"}
        kind = retriever_kind(method)
        if kind:
            corpus = SET_CORPUS[wildcards.dataset]
            paths.update(index=index_path(corpus, kind), corpus=corpus_path(corpus))
        models = get_method(method_name(method)).model_paths(method_config(method))
        if get_method(method_name(method)).uses_searcher:
            models.append(searcher_model(method))
        paths["models"] = built_models(*models)
        return paths

    return inputs


def infer_args(method):
    """Params function: `--index/--corpus` for a retrieving method, `--searcher-model` for an s3 method."""

    def args(wildcards):
        kind, corpus = retriever_kind(method), SET_CORPUS[wildcards.dataset]
        parts = (
            ["--index", index_path(corpus, kind), "--corpus", corpus_path(corpus)]
            if kind
            else []
        )
        if get_method(method_name(method)).uses_searcher:
            parts += ["--searcher-model", searcher_model(method)]
        return shlex.join(parts)

    return args


def generator_models(wildcards):
    """Model folders built here that evaluation with `wildcards.generator` (and its judge) reads."""
    return built_models(
        config["generators"][wildcards.generator]["model"],
        config["generators"][config["judge"]["generator"] or wildcards.generator][
            "model"
        ],
    )


def training_models(run):
    """Model folders built here that a run's training reads: the searcher's start, the reward generator, the
    judge."""
    judge = config["judge"]["generator"] or reward_generator(run)
    return built_models(
        run.sections["searcher"]["model"],
        config["generators"][reward_generator(run)]["model"],
        config["generators"][judge]["model"],
    )


def training_launcher():
    """What the training command runs under: with train.engine verl on several nodes, a Ray cluster across them
    (on one node verl starts its own Ray, seeing only the GPUs the training job leaves it).
    """
    nodes = job_resources("train_s3").get("nodes", 1)
    return (
        "s3core ray-run --" if config["train"]["engine"] == "verl" and nodes > 1 else ""
    )


def evaluated_runs():
    """The training runs whose searchers are evaluated (all of them when eval.methods has s3)."""
    return list(S3_RUNS) if "s3" in METHODS else []


def training_metrics():
    """The step logs of the evaluated runs (the training-cost table reads them)."""
    return [f"{train_dir(run)}/metrics.jsonl" for run in evaluated_runs()]


def s3_runs_json():
    """The evaluated runs' search, reward and train sections by label without seed (the rows of Tables 3, 5, 6
    and Figure 10 each fills), for `s3core table --s3-runs`."""
    runs = {S3_RUNS[run].group: S3_RUNS[run].sections for run in evaluated_runs()}
    return json.dumps(
        {
            label: {k: s[k] for k in ("search", "reward", "train")}
            for label, s in runs.items()
        },
        sort_keys=True,
    )


def training_outputs():
    """The training curves of the evaluated runs."""
    return [f"{train_dir(run)}/curve.png" for run in evaluated_runs()]


def answered_sets(method):
    """The sets `method` answers: all of them, or, for a method that retrieves nothing, those on wiki (its answers
    on a set's copy searched in MedCorp would be the same)."""
    return [d for d in DATASETS if retriever_kind(method) or SET_CORPUS[d] == "wiki"]


def all_answers():
    return [
        f"{RESULTS}/answers/{method}/{generator}/{dataset}.jsonl"
        for method in EVAL_METHODS
        for generator in GENERATORS
        for dataset in answered_sets(method)
    ]


def searched_indexes():
    """(kind, index folder, corpus file) of each index a job of this run searches: the evaluated methods' on each
    set's corpus, and wiki's for training (its naive-RAG cache, its episodes)."""
    pairs = {
        (retriever_kind(method), SET_CORPUS[dataset])
        for method in EVAL_METHODS
        for dataset in answered_sets(method)
        if retriever_kind(method)
    }
    pairs |= {
        (S3_RUNS[run].sections["search"]["retriever"], "wiki")
        for run in evaluated_runs()
    }
    return [
        (kind, index_path(corpus, kind), corpus_path(corpus))
        for kind, corpus in sorted(pairs)
    ]


def trained_searchers():
    """The `searcher` section each evaluated run's s3 inference uses: its trained searcher's folder as the model."""
    return {
        run: replace(method_config(run).searcher, model=searcher_dir(run))
        for run in evaluated_runs()
    }


@cache
def run_served_models():
    """The models the run's vLLM servers serve (with servers: per_run)."""
    return frozenset(served_models(method_config().generators, trained_searchers()))


def job_cores(models):
    """Cores Snakemake reserves for a job that loads `models`: none when the run's servers serve them all (the job
    only waits on those servers, which are not Snakemake jobs; the local profile's `server_clients` caps how many
    such jobs run at once), else config threads."""
    served = config["servers"] == "per_run" and set(models) <= run_served_models()
    return 0 if served else config["threads"]


def cores_beside_the_chain():
    """On one machine, the cores that jobs off the long chain may hold at once (resource `background_cores`): all but
    one, so the chain never waits for a core behind them; `--resources background_cores=N` sets another number.
    None on a cluster (jobs as nodes) or without a core count."""
    resources = workflow.global_resources
    if "background_cores" not in resources:
        cores = resources["_cores"].value
        if resources["_nodes"].value is not None or not cores:
            return None
        resources["background_cores"] = max(1, cores - 1)
    return resources["background_cores"].value


BACKGROUND_CORES = cores_beside_the_chain()


def off_chain_resources(method=None):
    """Resources of a method's infer or evaluate job (None: the job's `method` wildcard) that keep the long chain in
    front: off the chain, a job that holds no core takes one of the profile's `server_clients`, and one that holds
    cores counts them in `background_cores`; on the chain (precompute and training too), a job takes neither.
    """

    def on_chain(wildcards):
        return bool(chain_priority(method or wildcards.method))

    def background_cores(wildcards, threads):
        off = not on_chain(wildcards) and BACKGROUND_CORES is not None
        return min(threads, BACKGROUND_CORES) if off else 0

    return {
        "server_clients": lambda wildcards, threads: int(
            threads == 0 and not on_chain(wildcards)
        ),
        "background_cores": background_cores,
    }


def generator_loads(name):
    """The model a generator's job loads (`hf`) or has served (`vllm`); none for a remote API."""
    generator = config["generators"][name]
    return [generator["model"]] if generator["backend"] in ("hf", "vllm") else []


def answering_cores(generator):
    """job_cores of a job that answers with `generator` and its judge."""
    judge = config["judge"]["generator"] or generator
    return job_cores(generator_loads(generator) + generator_loads(judge))


def infer_cores(method):
    """job_cores of inferring with `method`: its reasoner's and own models, and its searcher when it runs on vLLM."""
    settings, runner = method_config(method), get_method(method_name(method))
    if runner.uses_searcher and settings.searcher.inference != "vllm":
        return config["threads"]  # the searcher generates in the job's own process
    searcher = [searcher_model(method)] if runner.uses_searcher else []
    return job_cores(runner.model_paths(settings) + searcher)

"""The jobs a target of the plan runs, as the DAG has them (tests/test_plan_jobs.py holds the two to the same
count per rule), with what each loads and asks for; the run's server jobs beside them (servers: per_run_slurm).
Targets: `all`, and the staged ones of STAGES."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from s3core.data.traits import traits
from s3core.plan import sizing

if TYPE_CHECKING:
    from s3core.plan.experiment import Plan

#: Staged targets (each a Snakemake rule of the same name writing tables/<name>/): what each one runs
STAGES = {
    "baselines": "every method that needs no training of its own (the baselines, s3 step 0, the released s3)",
    "general": "Table 1: every method on the general QA sets",
    "medical": "Table 2: every method on the MIRAGE sets (on wiki-18 and on MedCorp)",
    "ablations": "Tables 3, 5, 6 and Figure 10: the s3 variants of config `ablations`, each seed",
}
TARGETS = ("all", *STAGES)


@dataclass(frozen=True)
class Job:
    """One job: its `rule` and `wildcards`, the `questions` it answers or trains on, what it loads itself and the
    resources it asks for."""

    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    questions: int = 0
    load: sizing.Loads = sizing.Loads()
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return self.rule.split("_")[0] if self.rule.startswith("infer_") else self.rule


#: The questions of a set whose size the config leaves open (`size: null`: all of a file not yet read)
UNSIZED_SET = 1000


def set_size(spec: dict[str, Any]) -> int:
    """The questions a set asks (its `size`; UNSIZED_SET for a file read whole)."""
    return int(spec["size"] or UNSIZED_SET)


def set_source(plan: Plan, dataset: str) -> str:
    """An evaluation set's data source (`mirage:medqa` -> medqa; a set of your own: its name)."""
    source = plan.config["assets"]["eval"][dataset].get("source") or dataset
    return str(source).split(":")[-1].split("/")[0]


def is_medical(plan: Plan, dataset: str) -> bool:
    return traits(set_source(plan, dataset)).judge_only


def target_answers(plan: Plan, target: str) -> list[str]:
    """The answer files a target makes."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
    keep = {
        "all": lambda label, dataset: True,
        "baselines": lambda label, dataset: label not in plan.runs,
        "general": lambda label, dataset: not is_medical(plan, dataset),
        "medical": lambda label, dataset: is_medical(plan, dataset),
        "ablations": lambda label, dataset: plan.runs.get(label) is not None and plan.runs[label].ablation is not None,
    }[target]
    return [
        plan.paths.answers(label, generator, dataset)
        for label in plan.eval_methods
        for generator in plan.generators
        for dataset in plan.answered_sets(label)
        if keep(label, dataset)
    ]


def _parts(answer: str) -> tuple[str, str, str]:
    """(method, generator, dataset) of an answer file's path."""
    method, generator, name = answer.split("/")[-3:]
    return method, generator, name.removesuffix(".jsonl")


def target_jobs(plan: Plan, target: str = "all") -> list[Job]:
    """Every job of `target`, upstream jobs included, in stage order."""
    answers = [_parts(a) for a in target_answers(plan, target)]
    infers = sorted({(label, dataset) for label, _, dataset in answers})
    runs = sorted({label for label, _ in infers if label in plan.runs}, key=list(plan.runs).index)
    questions = {name: set_size(spec) for name, spec in plan.config["assets"]["eval"].items()}
    train_size = set_size(plan.config["assets"]["train"])
    jobs = _data_jobs(plan) + _index_jobs(plan, infers, runs)
    caches = {(plan.caches[run].generator, plan.caches[run].name) for run in runs}
    jobs += [_job(plan, "precompute", {"generator": g, "cache": c}, train_size) for g, c in sorted(caches)]
    steps = {run: plan.runs[run].sections["train"] for run in runs}
    jobs += [_job(plan, "train_s3", {"run": run}, s["steps"] * s["batch_size"]) for run, s in steps.items()]
    jobs += [Job("plot_training", {"run": run}) for run in runs]
    for label, dataset in infers:
        wildcards = {"method": label, "dataset": dataset}
        jobs.append(_job(plan, f"infer_{label.replace('.', '__')}", wildcards, questions[dataset], stage="infer"))
    for label, generator, dataset in answers:
        wildcards = {"method": label, "generator": generator, "dataset": dataset}
        jobs.append(_job(plan, "evaluate", wildcards, questions[dataset]))
    return jobs + [Job("table"), Job("report")] if target == "all" else jobs + [Job("table_stage")]


def _job(plan: Plan, rule: str, wildcards: dict[str, str], questions: int, stage: str | None = None) -> Job:
    stage = stage or rule
    load = sizing.rule_load(plan, stage, wildcards)
    entries = (stage, f"infer_{plan.method(wildcards['method']).name}") if stage == "infer" else (stage,)
    return Job(rule, wildcards, questions, load, plan.job_resources(stage, wildcards, *entries))


def _data_jobs(plan: Plan) -> list[Job]:
    jobs = [Job("download")]
    if "medcorp" in plan.corpora:
        jobs.append(Job("download_medcorp"))
    if plan.fetches_models and plan.hub_models():
        jobs.append(Job("fetch_models"))
    models = [g["model"] for g in plan.config["generators"].values()] + [plan.config["searcher"]["model"]]
    if plan.paths.llm in models:
        jobs.append(Job("convert_llm"))
    return jobs


def _index_jobs(plan: Plan, infers: list[tuple[str, str]], runs: list[str]) -> list[Job]:
    pairs = {(plan.set_corpus[d], kind) for label, d in infers if (kind := plan.retriever_kind(label))}
    pairs |= {("wiki", plan.runs[run].sections["search"]["retriever"]) for run in runs}
    jobs = []
    for corpus, kind in sorted(pairs):
        if kind == "dense":
            for shard, _ in enumerate(plan.dense_shards(corpus)):
                jobs.append(_job(plan, "encode_shard", {"corpus": corpus, "shard": str(shard)}, 0))
        jobs.append(_job(plan, "index", {"corpus": corpus, "kind": kind}, 0))
    return jobs


def server_jobs(plan: Plan, target: str = "all") -> list[Job]:
    """The run's server jobs a target starts (servers: per_run_slurm; [] otherwise): one per vLLM generator, per
    trained searcher on vLLM and per index searched."""
    if plan.config["servers"] != "per_run_slurm":
        return []
    jobs = target_jobs(plan, target)
    runs = {job.wildcards["run"] for job in jobs if job.rule == "train_s3"}
    indexes = {(job.wildcards["corpus"], job.wildcards["kind"]) for job in jobs if job.rule == "index"}
    settings = plan.settings()
    servers = []
    for name, generator in settings.generators.items():
        if generator.backend == "vllm":
            gpus = sizing.vllm_server_gpus(generator.vllm.tensor_parallel_size, generator.device)
            servers.append(Job("server", {"serves": name}, 0, sizing.Loads(gpus, (generator.model,))))
    for label, searcher in plan.trained_searchers().items():
        if label in runs and searcher.inference == "vllm":
            gpus = sizing.vllm_server_gpus(searcher.vllm.tensor_parallel_size, searcher.device)
            servers.append(Job("server", {"serves": f"searcher-{label}"}, 0, sizing.Loads(gpus, (searcher.model,))))
    for corpus, kind in sorted(indexes):
        index = plan.paths.index(corpus, kind)
        load = sizing.Loads(sizing.retriever_server_gpus(plan, kind), indexes=(index,))
        servers.append(Job("server", {"serves": f"retriever-{corpus}-{kind}"}, 0, load))
    return [replace(job, resources=sizing.server_request(plan, job.load.gpus, job.load.indexes)) for job in servers]

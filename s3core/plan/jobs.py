"""The jobs a target of the plan runs, as the DAG has them (tests/test_plan_jobs.py holds the two to the same
count per rule), with what each loads and asks for, what it uses and what it writes; the run's server jobs beside
them (servers: per_run_slurm). Targets: `all`, and the staged ones of STAGES."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from s3core.data.traits import traits
from s3core.plan import sizing
from s3core.serving.run_servers import FINISHED_MARK

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


def planned_jobs(plan: Plan, target: str = "all") -> list[Job]:
    """Every job of `target`, upstream jobs included, in stage order, without what each loads and asks for."""
    answers = [_parts(a) for a in target_answers(plan, target)]
    infers = sorted({(label, dataset) for label, _, dataset in answers})
    runs = sorted({label for label, _ in infers if label in plan.runs}, key=list(plan.runs).index)
    questions = {name: set_size(spec) for name, spec in plan.config["assets"]["eval"].items()}
    train_size = set_size(plan.config["assets"]["train"])
    jobs = _data_jobs(plan) + _index_jobs(plan, infers, runs)
    caches = {(plan.caches[run].generator, plan.caches[run].name) for run in runs}
    jobs += [Job("precompute", {"generator": g, "cache": c}, train_size) for g, c in sorted(caches)]
    steps = {run: plan.runs[run].sections["train"] for run in runs}
    jobs += [Job("train_s3", {"run": run}, s["steps"] * s["batch_size"]) for run, s in steps.items()]
    jobs += [Job("plot_training", {"run": run}) for run in runs]
    for label, dataset in infers:
        wildcards = {"method": label, "dataset": dataset}
        jobs.append(Job(f"infer_{label.replace('.', '__')}", wildcards, questions[dataset]))
    for label, generator, dataset in answers:
        wildcards = {"method": label, "generator": generator, "dataset": dataset}
        jobs.append(Job("evaluate", wildcards, questions[dataset]))
    return jobs + [Job("table"), Job("report")] if target == "all" else jobs + [Job("table_stage")]


#: The stages whose jobs load models or indexes and ask a cluster for them
SIZED = ("encode_shard", "index", "precompute", "train_s3", "infer", "evaluate")


def target_jobs(plan: Plan, target: str = "all") -> list[Job]:
    """Every job of `target` (see `planned_jobs`) with what it loads itself and the resources it asks for."""
    return [_sized(plan, job) if job.stage in SIZED else job for job in planned_jobs(plan, target)]


def _sized(plan: Plan, job: Job) -> Job:
    load = sizing.rule_load(plan, job.stage, job.wildcards)
    method = job.wildcards.get("method")
    entries = (job.stage, f"infer_{plan.method(method).name}") if job.stage == "infer" and method else (job.stage,)
    return replace(job, load=load, resources=plan.job_resources(job.stage, job.wildcards, *entries))


def job_uses(plan: Plan, job: Job) -> set[str]:
    """The models and index folders a job reads, itself or through the run's servers: the generator that answers
    and its judge, the index it searches, a method's reasoner, own model and searcher (not the searcher a training
    starts from: it loads that itself)."""
    wildcards = job.wildcards
    if job.rule == "evaluate":
        return _answering(plan, wildcards["generator"])
    if job.rule == "precompute":
        run = plan.cache_of(wildcards["generator"], wildcards["cache"]).run
        return _answering(plan, wildcards["generator"]) | {_wiki_index(plan, run.label)}
    if job.rule == "train_s3":
        return _answering(plan, plan.reward_generator(wildcards["run"])) | {_wiki_index(plan, wildcards["run"])}
    if job.stage == "infer":
        label, dataset = wildcards["method"], wildcards["dataset"]
        kind = plan.retriever_kind(label)
        return set(plan.method_loads(label)) | ({plan.paths.index(plan.set_corpus[dataset], kind)} if kind else set())
    return set()


def _wiki_index(plan: Plan, run: str) -> str:
    """The index a run's naive-RAG cache and training search."""
    return plan.paths.index("wiki", plan.runs[run].sections["search"]["retriever"])


def _answering(plan: Plan, generator: str) -> set[str]:
    return {*plan.generator_loads(generator), *plan.generator_loads(plan.judge_of(generator))}


def job_output(plan: Plan, job: Job) -> str | None:
    """The file there once a job that may use the run's servers is done: its answers, contexts or naive-RAG cache,
    or its trained searcher's finish mark (Snakemake's; the folder fills while it trains); None for other jobs."""
    wildcards = job.wildcards
    if job.rule == "evaluate":
        return plan.paths.answers(wildcards["method"], wildcards["generator"], wildcards["dataset"])
    if job.stage == "infer":
        return plan.paths.contexts(wildcards["method"], wildcards["dataset"])
    if job.rule == "precompute":
        return plan.cache_of(wildcards["generator"], wildcards["cache"]).path
    if job.rule == "train_s3":
        return f"{plan.paths.searcher(wildcards['run'])}/{FINISHED_MARK}"
    return None


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
                jobs.append(Job("encode_shard", {"corpus": corpus, "shard": str(shard)}))
        jobs.append(Job("index", {"corpus": corpus, "kind": kind}))
    return jobs


def server_jobs(plan: Plan, target: str = "all") -> list[Job]:
    """The run's server jobs a target starts (servers: per_run_slurm; [] otherwise): those a job of it uses."""
    if plan.config["servers"] != "per_run_slurm":
        return []
    outputs = {job_output(plan, job) for job in planned_jobs(plan, target)}
    return [
        Job("server", {"serves": server.name}, 0, server.load, sizing.server_request(plan, server.load))
        for server in plan.run_servers()
        if outputs.intersection(server.outputs)
    ]

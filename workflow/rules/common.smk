# Adapters from the experiment plan (s3core.plan) to Snakemake: the plan says what runs, with which inputs,
# arguments, config sections and cores; these turn wildcards into its questions and its answers into strings.
import re
import shlex

from snakemake.exceptions import WorkflowError

from s3core.plan import scheduling
from s3core.plan.cost import preview, timed_jobs
from s3core.plan.experiment import plan
from s3core.plan.jobs import STAGES

PLAN = plan(config)
PATHS = PLAN.paths


wildcard_constraints:
    dataset="|".join(PLAN.datasets),
    method="|".join(map(re.escape, PLAN.eval_methods)),
    run="|".join(map(re.escape, PLAN.runs)),
    cache=r"train(\.[A-Za-z0-9_-]+)?",
    generator="|".join(map(re.escape, config["generators"])),
    corpus="|".join(PLAN.corpora),
    kind="bm25|dense",
    shard="[0-9]+",


def sections(verb, run=None):
    """The file of the config sections `verb` reads (an s3 run's own), for `s3core <verb> --config`."""
    return PLAN.verb_sections_file(verb, run)


def gpu_hours_file(wildcards):
    """The file of the preview and the jobs whose times the report's GPU-hours used sum (made for the report job
    only: the preview costs the paper's DAG ~1 s)."""
    return PLAN.json_file({"preview": preview(PLAN), "jobs": timed_jobs(PLAN)})


def args(parts):
    """Command-line arguments, quoted for the shell."""
    return shlex.join(parts)


def sized(stage, *entries, method=None):
    """Resources of a job of `stage` (s3core.plan.sizing: from what it loads, the config's `entries` over them), as
    Snakemake asks for them: one function of the job's wildcards per key."""

    def value(key):
        return lambda wildcards: PLAN.job_resources(
            stage, {**wildcards, **({"method": method} if method else {})}, *entries
        )[key]

    configured = PLAN.configured_resources(*entries)
    keys = {"gpu", "mem_mb", *configured}
    if (
        configured.get("nodes", 1) > 1
    ):  # GPUs per node (s3core.plan.sizing.per_node_gpus)
        keys = (keys - {"gpu"}) | {"gres"}
    return {key: value(key) for key in sorted(keys)}


def background_cores():
    """On one machine, the cores jobs off the long chain may hold at once (resource `background_cores`: all but
    one; `--resources background_cores=N` sets another number). None on a cluster or without a core count.
    """
    if "background_cores" not in workflow.global_resources:
        try:
            cores = workflow.cores
        except WorkflowError:  # no core count (e.g. --lint)
            cores = None
        limit = scheduling.background_cores(cores, workflow.nodes)
        if limit is None:
            return None
        workflow.global_resources["background_cores"] = limit
    return workflow.global_resources["background_cores"].value


BACKGROUND_CORES = background_cores()


def off_chain_resources(method=None):
    """Resources of a method's infer or evaluate job (None: the job's `method` wildcard) that keep the chain in
    front (s3core.plan.scheduling.off_chain_slots)."""

    def slots(wildcards, threads):
        on_chain = PLAN.on_chain(method or wildcards.method)
        return scheduling.off_chain_slots(on_chain, threads, BACKGROUND_CORES)

    return {
        "server_clients": lambda wildcards, threads: slots(wildcards, threads)[
            "server_clients"
        ],
        "background_cores": lambda wildcards, threads: slots(wildcards, threads)[
            "background_cores"
        ],
    }

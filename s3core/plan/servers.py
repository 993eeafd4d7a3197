"""The run's servers (config `servers: per_run` or `per_run_slurm`; none with per_job), decided once per plan: one
vLLM server per `backend: vllm` generator (named after it), per s3 method's searcher on vLLM (`searcher-<label>`: a
trained run's once its training is done, s3_step0's base model, s3_released's checkpoint) and per method's own
model (`policy-<method>`: Search-R1's policy, DeepRetrieval's rewriter), a model a generator or an earlier server
serves getting no second one; and one retriever server per index a job searches (`retriever-<corpus>-<kind>`). A
server no job uses is left out. The workflow's servers and their SLURM jobs (s3core.stages.run_servers), the cost
preview's server jobs (s3core.plan.jobs) and what each job asks for (s3core.plan.sizing) all read this list."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from s3core.config.sections import VLLMServerConfig
from s3core.plan import sizing
from s3core.plan.jobs import job_output, job_uses, planned_jobs

if TYPE_CHECKING:
    from s3core.plan.experiment import Plan

#: What a server is: a generator's model, a trained searcher (started once its training is done), another
#: searcher model, a method's own policy model, a retriever over an index
ROLES = ("generator", "trained_searcher", "searcher", "policy", "retriever")


@dataclass(frozen=True)
class RunServer:
    """One server of the run: its `name` (its announcement's, log's and SLURM job's), its `role` (ROLES), what it
    `serves` (a model's hub id or folder; an index folder), its `gpus`, a model's `vllm` settings, an index's
    `kind` and `corpus` file, and `outputs`: the files of the plan's jobs that use it (it is needed until they
    all exist)."""

    name: str
    role: str
    serves: str
    gpus: int
    vllm: VLLMServerConfig | None = None
    kind: str | None = None
    corpus: str | None = None
    outputs: tuple[str, ...] = ()

    @property
    def load(self) -> sizing.Loads:
        """What the server loads: its model, or its index."""
        if self.kind:
            return sizing.Loads(self.gpus, indexes=(self.serves,))
        return sizing.Loads(self.gpus, (self.serves,))


def run_servers(plan: Plan) -> tuple[RunServer, ...]:
    """The run's servers that some job of the plan uses, each with the outputs of those jobs (none: per_job)."""
    if plan.config["servers"] == "per_job":
        return ()
    needed: dict[str, list[str]] = {}
    for job in planned_jobs(plan):
        if output := job_output(plan, job):
            for used in job_uses(plan, job):
                needed.setdefault(used, []).append(output)
    servers = _model_servers(plan) + _retriever_servers(plan)
    return tuple(replace(s, outputs=tuple(needed[s.serves])) for s in servers if s.serves in needed)


def _model_servers(plan: Plan) -> list[RunServer]:
    """The vLLM servers: every `backend: vllm` generator's, then each evaluated method's model servers of a model
    not served already."""
    generators = plan.settings().generators
    servers = [
        _vllm(name, "generator", g.model, g.vllm, g.device) for name, g in generators.items() if g.backend == "vllm"
    ]
    for server in (server for label in plan.eval_methods for server in _method_servers(plan, label)):
        if server.serves not in {s.serves for s in servers}:
            servers.append(server)
    return servers


def _method_servers(plan: Plan, label: str) -> list[RunServer]:
    """A method's searcher when it runs on vLLM (a trained run's, s3_step0's base model, s3_released's checkpoint)
    and its own model (Search-R1's policy, DeepRetrieval's rewriter: s3core.methods.models.policy_model). An own
    model runs with the searcher's `vllm` settings and `device`: `baselines.search_r1` and `baselines.deepretrieval`
    have no server settings of their own, and their models are searcher-sized policies as the searcher is."""
    method, settings = plan.method(label), plan.settings(label)
    searcher, servers = settings.searcher, []
    if method.uses_searcher and searcher.inference == "vllm":
        role = "trained_searcher" if label in plan.runs else "searcher"
        servers.append(_vllm(f"searcher-{label}", role, plan.searcher_model(label), searcher.vllm, searcher.device))
    if own := method.own_model(settings):
        servers.append(_vllm(f"policy-{method.name}", "policy", own, searcher.vllm, searcher.device))
    return servers


def _vllm(name: str, role: str, model: str, server: VLLMServerConfig, device: str) -> RunServer:
    return RunServer(name, role, model, sizing.vllm_server_gpus(server.tensor_parallel_size, device), vllm=server)


def _retriever_servers(plan: Plan) -> list[RunServer]:
    return [
        RunServer(
            "-".join(["retriever", *Path(index).parts[-2:]]),
            "retriever",
            index,
            sizing.retriever_server_gpus(plan, kind),
            kind=kind,
            corpus=corpus,
        )
        for kind, index, corpus in plan.searched_indexes()
    ]

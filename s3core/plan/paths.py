"""Every path a run writes, under `results/<suite>/`: data, indexes, caches, training runs, contexts, answers,
tables, the report, logs and benchmarks. Arguments may be Snakemake wildcard patterns (`"{dataset}"`)."""

from __future__ import annotations

from dataclasses import dataclass

#: The parts of each rule's benchmark file that has wildcards (Snakemake patterns); any other rule's is its name.
#: Every `infer_<method>` rule has `infer`'s.
BENCHMARKS = {
    "encode_shard": ("index", "{corpus}", "dense.shards", "{shard}"),
    "index": ("index", "{corpus}", "{kind}"),
    "infer": ("infer", "{method}", "{dataset}"),
    "evaluate": ("evaluate", "{method}", "{generator}", "{dataset}"),
    "precompute": ("precompute", "{generator}", "{cache}"),
    "train_s3": ("train_{run}",),
    "plot_training": ("plot_training", "{run}"),
    "server": ("server", "{serves}"),  # a run server's time held (s3core.serving.run_servers), not Snakemake's
}


class _Pattern(dict[str, str]):
    """Wildcards for `str.format_map` that leave the ones not given as patterns (`{dataset}`)."""

    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


@dataclass(frozen=True)
class Paths:
    """The run's folder (`results/<suite>`) and every path under it."""

    root: str

    @classmethod
    def of_suite(cls, suite: str) -> Paths:
        return cls(f"results/{suite}")

    # --- data and models -------------------------------------------------------------------------------------

    def corpus(self, corpus: str) -> str:
        return f"{self.root}/data/corpora/{corpus}.jsonl"

    def qa(self, name: str) -> str:
        """A QA set (`train` or an evaluation set)."""
        return f"{self.root}/data/qa/{name}.jsonl"

    @property
    def data(self) -> str:
        """The folder of the downloaded corpora, QA sets and manifests."""
        return f"{self.root}/data"

    @property
    def data_manifest(self) -> str:
        return f"{self.data}/manifest.json"

    @property
    def medcorp_manifest(self) -> str:
        return f"{self.root}/data/medcorp.manifest.json"

    @property
    def models_manifest(self) -> str:
        """What rule fetch_models fetched into the Hugging Face cache."""
        return f"{self.root}/data/models.json"

    @property
    def llm(self) -> str:
        """The demo's LLM, converted from GGUF."""
        return f"{self.root}/assets/llm"

    def index(self, corpus: str, kind: str) -> str:
        return f"{self.root}/index/{corpus}/{kind}"

    def shard(self, corpus: str, shard: str | int) -> str:
        """One encode_shard job's vectors of a sharded dense index."""
        return f"{self.root}/index/{corpus}/dense.shards/{shard}.npy"

    # --- training --------------------------------------------------------------------------------------------

    def rag_cache(self, generator: str, cache: str) -> str:
        """A naive-RAG cache: the reward generator's answers from the initial search's documents."""
        return f"{self.root}/cache/rag/{generator}/{cache}.jsonl"

    def train_dir(self, run: str) -> str:
        """A training run's folder: searcher/, metrics.jsonl, checkpoints/, curve.png."""
        return f"{self.root}/train/{run}"

    def searcher(self, run: str) -> str:
        return f"{self.train_dir(run)}/searcher"

    def metrics(self, run: str) -> str:
        return f"{self.train_dir(run)}/metrics.jsonl"

    def curve(self, run: str) -> str:
        return f"{self.train_dir(run)}/curve.png"

    def training_provenance(self, run: str) -> str:
        """A training job's provenance record (its wall time and GPUs, for the training-cost table)."""
        return self.log(f"train_{run}", suffix=".provenance.json")

    # --- methods, answers, tables ----------------------------------------------------------------------------

    def contexts(self, method: str, dataset: str) -> str:
        return f"{self.root}/contexts/{method}/{dataset}.jsonl"

    def answers(self, method: str, generator: str, dataset: str) -> str:
        return f"{self.root}/answers/{method}/{generator}/{dataset}.jsonl"

    def table(self, name: str) -> str:
        """A file of `tables/` (main.md, paper.csv, training_cost.md, ...)."""
        return f"{self.root}/tables/{name}"

    @property
    def report(self) -> str:
        """The report page's folder (index.html, opens without a server, and its figures)."""
        return f"{self.root}/report"

    def plan_file(self, name: str) -> str:
        """A file the plan writes once per run (`plan/`: the jobs' config sections, the cost preview)."""
        return f"{self.root}/plan/{name}"

    def services(self, kind: str) -> str:
        """Where the run's servers of `kind` (generators, retrievers) announce themselves."""
        return f"{self.root}/services/{kind}"

    @property
    def services_logs(self) -> str:
        """The logs of the run's retriever servers."""
        return f"{self.root}/logs/services"

    # --- logs and benchmarks ---------------------------------------------------------------------------------

    def log(self, *parts: str, suffix: str = ".log") -> str:
        """`logs/<parts...><suffix>`: a job's log (`.log`), its server's (`.server.log`), its provenance record."""
        return f"{self.root}/logs/{'/'.join(parts)}{suffix}"

    def benchmark(self, rule: str, **wildcards: str) -> str:
        """`benchmarks/...tsv`, Snakemake's record of the wall time, memory and CPU of `rule`'s job with `wildcards`
        (those not given stay patterns, for the rule itself)."""
        parts = BENCHMARKS.get("infer" if rule.startswith("infer_") else rule, (rule,))
        return f"{self.root}/benchmarks/{'/'.join(part.format_map(_Pattern(wildcards)) for part in parts)}.tsv"

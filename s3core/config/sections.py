"""The config's sections as typed, frozen dataclasses, built once from the validated config (defaults filled).

The schema (`s3core/resources/config.schema.yaml`) stays the one place that says what a key means and what it
defaults to; these classes give each section a type, so code names the section it reads (`search: SearchConfig`)
and a mistyped key fails where it is written. `tests/test_sections.py` checks that the classes and the schema name
the same keys. The `#:` comment above a field is the schema's description of its key, written by
`python -m s3core.config.field_docs --write` (the test fails when the two disagree).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


# --- the retriever ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BM25Config:
    #: bm25s = a Python BM25 with Lucene's scoring (PyStemmer stemming, stopwords below); pyserini = Lucene itself
    #: through Anserini (upstream's BM25; Java 17; Anserini's English analyzer, so stemmer and stopwords do not apply)
    engine: str
    #: build = index the corpus; download = import upstream's prebuilt Lucene index of wiki-18
    #: (PeterJinGo/wiki-18-bm25-index, folder bm25/; engine pyserini, assets.kind paper), not rebuilt; MedCorp's is …
    source: str
    k1: float
    b: float
    stemmer: str | None
    stopwords: str | None


@dataclass(frozen=True)
class DenseConfig:
    #: folder, HF id, or pkg:<package>/<path>
    encoder: str
    query_prefix: str
    passage_prefix: str
    max_length: int
    batch_size: int
    device: str
    #: half precision on CUDA (ignored on CPU)
    fp16: bool
    #: on CUDA, the server's query encoder replays CUDA graphs captured at start-up, one per (batch, length) bucket
    #: (powers of two up to batch_size and max_length), instead of launching its kernels one by one
    cuda_graphs: bool
    #: encode the corpus as this many jobs (rule encode_shard, resources.encode_shard: one GPU each), joined in corpus
    #: order into one index; a killed shard is encoded again alone. 1 = one index job encodes it all
    shards: int
    #: how the server searches the flat index: faiss = FAISS (faiss-gpu: sharded over the job's GPUs in fp16, as
    #: upstream; faiss-cpu: the CPU); torch = exact matmul + top-k with torch, sharded over the job's GPUs in fp16 …
    search: str
    #: build = encode the corpus; download = import upstream's prebuilt e5 flat index of wiki-18 (assets.kind paper), no
    #: re-encoding; MedCorp's is always built
    source: str


@dataclass(frozen=True)
class ServerConfig:
    host: str
    max_topk: int
    max_queries: int
    max_query_chars: int
    #: a request body over this gets 413 before it is read (512 queries of 4,096 characters fit)
    max_body_bytes: int
    #: a request whose body has not fully arrived this long after its headers gets 408 and its connection is closed
    body_timeout_s: float
    #: merge concurrent requests into one encode+search
    batching: bool
    #: dense ranking (query encoding + index search) in a process of its own beside the HTTP server's, which encodes one
    #: batch while it searches the one before; auto = when the dense retriever runs on a GPU
    search_process: str
    max_batch: int
    startup_timeout_s: float


@dataclass(frozen=True)
class ClientConfig:
    timeout_s: float
    retries: int
    backoff_s: float
    #: the most one call may take, retries and backoff included: a hung server fails its caller after this, not after
    #: every attempt's timeout
    deadline_s: float
    #: queries per request
    batch_size: int


@dataclass(frozen=True)
class RetrieverConfig:
    #: documents per question for naive RAG
    topk: int
    bm25: BM25Config
    dense: DenseConfig
    server: ServerConfig
    client: ClientConfig


# --- generators and the judge ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VLLMServerConfig:
    #: program and verb before the model
    command: tuple[str, ...]
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    #: more `vllm serve` flags
    extra_args: tuple[str, ...]
    #: model download + load + CUDA graphs
    startup_timeout_s: float
    #: the server's log: <log_dir>/<generator>.log; the workflow's default is results/<suite>/logs/vllm
    log_dir: str
    #: how much to lower the server's CPU priority (Linux nice value; 0 = as the job that starts it). Where the server
    #: shares CPU cores with jobs that compute themselves (the demo's training beside the run's server), 10 lets those …
    nice: int
    #: environment variables the server runs with, over the job's (e.g. VLLM_ATTENTION_BACKEND on GPUs). On CPU cores
    #: shared with other work, `{OMP_WAIT_POLICY: PASSIVE}` lets vLLM's OpenMP threads sleep instead of spin when they …
    env: dict[str, str]


@dataclass(frozen=True)
class GeneratorConfig:
    #: hf = in-process transformers; openai = a running OpenAI-compatible server (base_url + key from api_key_env: vLLM
    #: elsewhere, an API); vllm = this job starts its own vLLM server on a free port (settings under vllm) and stops …
    backend: str
    #: local folder or Hugging Face id (hf), or the model name the server knows (openai).
    model: str
    max_new_tokens: int
    #: chat = contexts in a system turn, the question as the user turn (upstream's vLLM generators); single_user = one
    #: user message with contexts, question and instruction (upstream's Claude prompt)
    prompt_format: str
    #: prompts are cut from the left of the context to fit
    max_input_tokens: int
    #: prompts per forward pass (hf)
    batch_size: int
    device: str
    #: auto = bfloat16 on CUDA
    dtype: str
    #: openai backend: e.g. http://127.0.0.1:8000/v1; anthropic/bedrock: another endpoint than the provider's
    base_url: str | None
    #: bedrock: the AWS region (null: AWS_REGION from the environment)
    aws_region: str | None
    #: environment variable holding the key (openai)
    api_key_env: str
    #: parallel requests (openai)
    concurrency: int
    timeout_s: float
    retries: int
    #: a vLLM server (`vllm serve <model> ...`): a `backend: vllm` generator's, or the searcher's at inference
    #: (`searcher.inference: vllm`)
    vllm: VLLMServerConfig


@dataclass(frozen=True)
class JudgeConfig:
    #: key of `generators` used as the LLM judge; null = the generator judges itself (upstream code)
    generator: str | None
    #: false = GenAcc is the span check alone
    enabled: bool


# --- baselines -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoTConfig:
    #: reasoning + answer budget of the generator
    max_new_tokens: int


@dataclass(frozen=True)
class IRCoTConfig:
    #: index queried (paper - e5 dense)
    retriever: str
    topk: int
    #: reasoning sentences (each non-final one is a query)
    max_steps: int
    #: per reasoning sentence
    max_new_tokens: int


@dataclass(frozen=True)
class SearchO1Config:
    #: index queried (paper - e5 dense)
    retriever: str
    topk: int
    max_searches: int
    #: per reasoning segment
    max_new_tokens: int
    #: per reason-in-documents call
    condense_max_new_tokens: int


@dataclass(frozen=True)
class SearchR1Config:
    #: policy (HF id or folder)
    model: str
    #: index queried (paper - e5 dense)
    retriever: str
    topk: int
    #: searches at most
    max_turns: int
    #: per turn
    max_new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class DeepRetrievalConfig:
    #: query rewriter (HF id or folder); retrieval is BM25
    model: str
    topk: int
    max_new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class BaselinesConfig:
    #: generator (a name in generators) that reasons for IRCoT and Search-o1; null - the first one
    reasoner: str | None
    cot: CoTConfig
    ircot: IRCoTConfig
    search_o1: SearchO1Config
    search_r1: SearchR1Config
    deepretrieval: DeepRetrievalConfig


# --- s3: the search, the searcher, the reward, training --------------------------------------------------------


@dataclass(frozen=True)
class SearchConfig:
    #: index the searcher queries (paper - e5 dense)
    retriever: str
    #: naive-RAG documents in the prompt
    initial_topk: int
    #: documents per search
    topk: int
    #: ids the prompt asks for per important_info (upstream's reward code keeps every valid id, uncapped)
    max_selected: int
    max_turns: int
    #: false: the generator gets every retrieved document, not the <important_info> selection (paper's Table 6 'w/o
    #: Selection')
    selection: bool
    #: false: no initial naive-RAG documents, the searcher starts from the question alone (Table 6 'w/o Begin with
    #: Search')
    begin_with_search: bool
    #: upstream runs max_turns + 1 searching rounds before the final turn without search
    extra_search_round: bool
    #: per searcher turn
    max_new_tokens: int
    #: an observation is cut to this
    max_obs_tokens: int
    #: episodes end before exceeding this
    max_context_tokens: int
    #: rollout sampling in training (inference is greedy)
    temperature: float

    @property
    def rounds(self) -> int:
        """Turns that may search: `max_turns`, plus one when `extra_search_round` (upstream's count)."""
        return self.max_turns + int(self.extra_search_round)


@dataclass(frozen=True)
class SearcherConfig:
    #: folder or Hugging Face id; actor, critic and reference start from it (upstream's train_s3.sh:
    #: Qwen2.5-7B-Instruct-1M; the paper's text: Qwen2.5-7B-Instruct)
    model: str
    device: str
    #: auto = bfloat16 on CUDA
    dtype: str
    #: episodes per generation batch
    batch_size: int
    #: the searcher's first message from a file (training and inference): the prompt a checkpoint was trained with,
    #: {question} and {initial_docs} marking where the question and the naive-RAG documents go; null = ours. The …
    prompt_file: str | None
    #: upstream's released searcher (method s3_released)
    released: str
    #: how the s3 methods run the searcher at inference (training always uses transformers): hf = transformers in the
    #: job; vllm = a vLLM server (token ids in and out of /v1/completions, greedy): the run's server for the same …
    inference: str
    #: a vLLM server (`vllm serve <model> ...`): a `backend: vllm` generator's, or the searcher's at inference
    #: (`searcher.inference: vllm`)
    vllm: VLLMServerConfig


@dataclass(frozen=True)
class SearcherServerConfig:
    #: bound beyond loopback, a bearer token is required (token_env or --token-file)
    host: str
    #: questions in one request
    max_questions: int
    max_question_chars: int
    #: the largest topk a request may ask for
    max_topk: int
    #: the largest max_turns a request may ask for
    max_turns: int
    #: a request body over this gets 413 before it is read
    max_body_bytes: int
    #: a request whose body has not fully arrived this long after its headers gets 408
    body_timeout_s: float
    #: episode contexts (searches, conversations) of concurrent requests merged into one generation batch
    max_batch: int
    #: the environment variable that holds the bearer token (never logged)
    token_env: str


@dataclass(frozen=True)
class RewardConfig:
    #: gbr = GenAcc(s3) - GenAcc(RAG) (paper); upstream = 2 GenAcc(s3) - GenAcc(RAG) (upstream code)
    form: str
    #: the score the gain is measured in (paper's Table 5): genacc (span check, else the judge), judge (the LLM judge
    #: alone, asked on every answer), span (the span check alone) or em
    metric: str
    #: key of `generators` that answers during training; null = the first one
    generator: str | None


@dataclass(frozen=True)
class RolloutConfig:
    tensor_parallel_size: int
    gpu_memory_utilization: float


@dataclass(frozen=True)
class VerlConfig:
    #: GPUs verl uses on each node; null = the job's visible GPUs (CUDA_VISIBLE_DEVICES) less generator_gpus
    n_gpus_per_node: int | None
    #: one node only: the first N of the job's GPUs serve the reward generator and judge (backend vllm sidecars) and
    #: verl gets the rest, as upstream gave the generator GPUs of its own; 0 = they share
    generator_gpus: int
    #: verl's prompt length: the most tokens of the searcher's first prompt (question + naive-RAG docs); a longer one
    #: stops training with an error naming this key
    max_prompt_length: int
    #: verl's vLLM rollout engine (in verl's workers)
    rollout: RolloutConfig
    #: FSDP parameters of actor and reference offloaded to the CPU between uses (upstream on; the memory plan of a 7B
    #: searcher on 80 GB GPUs)
    param_offload: bool
    #: actor and critic checkpoints kept on disk (a 7B run's are ~45 GB each)
    keep_checkpoints: int
    #: more `key=value` overrides of verl's ppo_trainer config, applied last
    extra_overrides: tuple[str, ...]


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    #: questions per step
    batch_size: int
    mini_batch_size: int
    #: sequences per forward pass (memory only)
    micro_batch_size: int
    ppo_epochs: int
    actor_lr: float
    critic_lr: float
    clip: float
    value_clip: float
    entropy_coef: float
    #: KL-in-reward penalty against the frozen reference
    kl_coef: float
    grad_clip: float
    gamma: float
    lam: float
    seed: int
    #: drop training questions naive RAG already answers
    drop_rag_correct: bool
    #: drop questions with a gold answer yes, no, true or false (any case)
    drop_yes_no: bool
    #: steps between checkpoints (and one at the end)
    checkpoint_every: int
    #: recompute activations in the backward pass of actor and critic (upstream on)
    gradient_checkpointing: bool
    #: local: the built-in PPO trainer (one process, CPU or one GPU). verl: verl's PPO trainer (its V1 trainer: FSDP
    #: actor and critic, vLLM rollouts, s3's agent loop) on a Ray cluster across the job's nodes (s3core ray-run; …
    engine: str
    #: settings only the verl engine reads (the PPO values above apply to both engines)
    verl: VerlConfig


@dataclass(frozen=True)
class ReportConfig:
    #: GenAcc points by which a cell may differ from the paper's before tables/paper.md flags it
    tolerance: float
    #: a sentence shown on top of the report page (report/index.html)
    note: str
    #: generator -> the paper's generator block its answers are put beside in tables/paper.md (default: the block whose
    #: model the generator's name or model id names)
    stands_for: dict[str, str]


@dataclass(frozen=True)
class JobConfig:
    """The sections a job reads; a rule passes those it needs as one JSON object, the others take their defaults."""

    retriever: RetrieverConfig
    #: name -> frozen generator; one answer set and table per generator
    generators: dict[str, GeneratorConfig]
    judge: JudgeConfig
    #: searcher-side settings of the baselines (defaults - the paper's values)
    baselines: BaselinesConfig
    #: the s3 episode ("8-3-3" = topk 8, max_selected 3, max_turns 3)
    search: SearchConfig
    #: the trained LLM (upstream code - Qwen2.5-7B-Instruct-1M)
    searcher: SearcherConfig
    reward: RewardConfig
    #: PPO (upstream train_s3.sh values)
    train: TrainConfig
    report: ReportConfig
    #: `s3core serve --kind searcher`: a searcher, its retriever and optionally a generator over HTTP (POST /search,
    #: POST /v1/chat/completions); limits in the style of retriever.server's. The workflow does not start it
    searcher_server: SearcherServerConfig


# --- building them ---------------------------------------------------------------------------------------------

#: top-level config key -> its class (`generators` maps names to GeneratorConfig)
SECTIONS: dict[str, Any] = {
    "retriever": RetrieverConfig,
    "generators": dict[str, GeneratorConfig],
    "judge": JudgeConfig,
    "baselines": BaselinesConfig,
    "search": SearchConfig,
    "searcher": SearcherConfig,
    "reward": RewardConfig,
    "train": TrainConfig,
    "report": ReportConfig,
    "searcher_server": SearcherServerConfig,
}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, value: Any) -> Any:
    """`value` (validated JSON) as the type `hint` names: dataclasses built, lists of strings as tuples, name ->
    section maps built entry by entry; everything else as it is."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value)
    origin = typing.get_origin(hint)
    if origin is dict:
        _, item = typing.get_args(hint)
        return {key: _convert(item, entry) for key, entry in value.items()}
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin in (typing.Union, types.UnionType) and value is not None:
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    return value


def build(cls: type[T], data: dict[str, Any]) -> T:
    """A section object from its validated dict; a key the class lacks is a programming error (KeyError)."""
    hints = _hints(cls)  # type: ignore[arg-type]  # a class is hashable; cache's stub misses it for type[T]
    unknown = set(data) - set(hints)
    if unknown:
        raise KeyError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    return cls(**{name: _convert(hints[name], value) for name, value in data.items()})


def section(name: str, data: dict[str, Any]) -> Any:
    """Top-level config section `name`, already validated, as its typed object."""
    return _convert(SECTIONS[name], data)


def parse(name: str, data: str | dict[str, Any]) -> Any:
    """Top-level config section `name` from its dict or JSON text: validated, defaults filled, typed."""
    from s3core.config import schema

    return section(name, schema.section(name, data))


def to_dict(value: Any) -> Any:
    """A section object back as JSON-ready data (tuples as lists), e.g. for provenance or a subprocess."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: to_dict(entry) for key, entry in value.items()}
    if isinstance(value, tuple):
        return [to_dict(entry) for entry in value]
    return value


def job_config(data: str | dict[str, Any]) -> JobConfig:
    """A job's sections from a JSON object (or its text) of section name -> section: each validated with its
    defaults filled; absent sections all defaults; any other key an error naming the allowed ones."""
    from s3core.config import schema
    from s3core.errors import ConfigError

    given = json.loads(data) if isinstance(data, str) else data
    if unknown := sorted(set(given) - set(SECTIONS)):
        raise ConfigError(f"config key '{unknown[0]}': not a job's section; allowed: {', '.join(SECTIONS)}")
    validated = {name: schema.section(name, given.get(name, {})) for name in SECTIONS if name != "generators"}
    generators = schema.section("generators", given["generators"]) if "generators" in given else {}  # none: {}
    return JobConfig(**{name: section(name, data) for name, data in {**validated, "generators": generators}.items()})

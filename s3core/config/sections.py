"""The config's sections as typed, frozen dataclasses, built once from the validated config (defaults filled).

The schema (`s3core/resources/config.schema.yaml`) stays the one place that says what a key means and what it
defaults to; these classes give each section a type, so code names the section it reads (`search: SearchConfig`)
and a mistyped key fails where it is written. `tests/test_sections.py` checks that the classes and the schema name
the same keys.
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
    engine: str
    source: str
    k1: float
    b: float
    stemmer: str | None
    stopwords: str | None


@dataclass(frozen=True)
class DenseConfig:
    encoder: str
    query_prefix: str
    passage_prefix: str
    max_length: int
    batch_size: int
    device: str
    fp16: bool
    cuda_graphs: bool
    shards: int
    search: str
    source: str


@dataclass(frozen=True)
class ServerConfig:
    host: str
    max_topk: int
    max_queries: int
    max_query_chars: int
    max_body_bytes: int
    body_timeout_s: float
    batching: bool
    search_process: str
    max_batch: int
    startup_timeout_s: float


@dataclass(frozen=True)
class ClientConfig:
    timeout_s: float
    retries: int
    backoff_s: float
    deadline_s: float
    batch_size: int


@dataclass(frozen=True)
class RetrieverConfig:
    topk: int
    bm25: BM25Config
    dense: DenseConfig
    server: ServerConfig
    client: ClientConfig


# --- generators and the judge ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VLLMServerConfig:
    command: tuple[str, ...]
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    extra_args: tuple[str, ...]
    startup_timeout_s: float
    log_dir: str
    nice: int
    env: dict[str, str]


@dataclass(frozen=True)
class GeneratorConfig:
    backend: str
    model: str
    max_new_tokens: int
    prompt_format: str
    max_input_tokens: int
    batch_size: int
    device: str
    dtype: str
    base_url: str | None
    aws_region: str | None
    api_key_env: str
    concurrency: int
    timeout_s: float
    retries: int
    vllm: VLLMServerConfig


@dataclass(frozen=True)
class JudgeConfig:
    generator: str | None
    enabled: bool


# --- baselines -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoTConfig:
    max_new_tokens: int


@dataclass(frozen=True)
class IRCoTConfig:
    retriever: str
    topk: int
    max_steps: int
    max_new_tokens: int


@dataclass(frozen=True)
class SearchO1Config:
    retriever: str
    topk: int
    max_searches: int
    max_new_tokens: int
    condense_max_new_tokens: int


@dataclass(frozen=True)
class SearchR1Config:
    model: str
    retriever: str
    topk: int
    max_turns: int
    max_new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class DeepRetrievalConfig:
    model: str
    topk: int
    max_new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class BaselinesConfig:
    reasoner: str | None
    cot: CoTConfig
    ircot: IRCoTConfig
    search_o1: SearchO1Config
    search_r1: SearchR1Config
    deepretrieval: DeepRetrievalConfig


# --- s3: the search, the searcher, the reward, training --------------------------------------------------------


@dataclass(frozen=True)
class SearchConfig:
    retriever: str
    initial_topk: int
    topk: int
    max_selected: int
    max_turns: int
    selection: bool
    begin_with_search: bool
    extra_search_round: bool
    max_new_tokens: int
    max_obs_tokens: int
    max_context_tokens: int
    temperature: float

    @property
    def rounds(self) -> int:
        """Turns that may search: `max_turns`, plus one when `extra_search_round` (upstream's count)."""
        return self.max_turns + int(self.extra_search_round)


@dataclass(frozen=True)
class SearcherConfig:
    model: str
    device: str
    dtype: str
    batch_size: int
    prompt_file: str | None
    released: str
    inference: str
    vllm: VLLMServerConfig


@dataclass(frozen=True)
class SearcherServerConfig:
    host: str
    max_questions: int
    max_question_chars: int
    max_topk: int
    max_turns: int
    max_body_bytes: int
    body_timeout_s: float
    max_batch: int
    token_env: str


@dataclass(frozen=True)
class RewardConfig:
    form: str
    metric: str
    generator: str | None


@dataclass(frozen=True)
class RolloutConfig:
    tensor_parallel_size: int
    gpu_memory_utilization: float


@dataclass(frozen=True)
class VerlConfig:
    n_gpus_per_node: int | None
    generator_gpus: int
    max_prompt_length: int
    rollout: RolloutConfig
    param_offload: bool
    keep_checkpoints: int
    extra_overrides: tuple[str, ...]


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int
    mini_batch_size: int
    micro_batch_size: int
    ppo_epochs: int
    actor_lr: float
    critic_lr: float
    clip: float
    value_clip: float
    entropy_coef: float
    kl_coef: float
    grad_clip: float
    gamma: float
    lam: float
    seed: int
    drop_rag_correct: bool
    drop_yes_no: bool
    checkpoint_every: int
    gradient_checkpointing: bool
    engine: str
    verl: VerlConfig


@dataclass(frozen=True)
class ReportConfig:
    tolerance: float
    note: str
    stands_for: dict[str, str]


@dataclass(frozen=True)
class JobConfig:
    """The sections a job reads; a rule passes those it needs as one JSON object, the others take their defaults."""

    retriever: RetrieverConfig
    generators: dict[str, GeneratorConfig]
    judge: JudgeConfig
    baselines: BaselinesConfig
    search: SearchConfig
    searcher: SearcherConfig
    reward: RewardConfig
    train: TrainConfig
    report: ReportConfig
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
    if dataclasses.is_dataclass(hint):
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
    hints = _hints(cls)
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

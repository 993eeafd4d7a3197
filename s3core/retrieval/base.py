"""The retriever interface shared by BM25 and dense search, and loading an index by kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from s3core.corpus import Document

Hit = tuple[Document, float]


class Retriever(Protocol):
    """Search many queries at once; one ranked hit list per query."""

    kind: str

    def __len__(self) -> int: ...

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]: ...


KINDS = ("bm25", "dense")


def load_retriever(kind: str, index_dir: Path, corpus: Path, settings: dict[str, Any]) -> Retriever:
    """Open a built index (`settings` is the `retriever` config section)."""
    if kind == "bm25":
        from s3core.retrieval.bm25 import open_bm25

        return open_bm25(index_dir, corpus)
    if kind == "dense":
        from s3core.retrieval.dense import DenseRetriever

        return DenseRetriever(index_dir, corpus, settings["dense"])
    raise ValueError(f"unknown retriever kind {kind!r}; allowed: {list(KINDS)}")

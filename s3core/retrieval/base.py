"""The retriever interface shared by BM25 and dense search, and loading an index by kind."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from s3core.config.sections import RetrieverConfig
from s3core.data.corpus import Document

Hit = tuple[Document, float]


class Retriever(Protocol):
    """Search many queries at once; one ranked hit list per query."""

    kind: str

    def __len__(self) -> int: ...

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]: ...


class StageStats:
    """Searches, queries, index scans and seconds per stage of a retriever since it started (thread-safe), for
    GET /stats. A search is one batch of the server's; a scan is one pass over the index, which may serve several
    batches (a search process searches the batches waiting together): each then adds its share of the scan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {"searches": 0, "queries": 0, "scans": 0.0}

    def add(self, queries: int, scans: float = 1.0, **seconds: float) -> None:
        with self._lock:
            self._totals["searches"] += 1
            self._totals["queries"] += queries
            self._totals["scans"] += scans
            for stage, value in seconds.items():
                self._totals[f"{stage}_s"] = self._totals.get(f"{stage}_s", 0.0) + value

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._totals)


KINDS = ("bm25", "dense")


def search_in_process(retriever: RetrieverConfig) -> bool:
    """Whether dense ranking runs in a search process of its own (`retriever.server.search_process`; auto: when
    it runs on a GPU, where the encoder's kernel launches would otherwise compete with HTTP for one interpreter)."""
    choice = retriever.server.search_process
    if choice != "auto":
        return choice == "always"
    device = retriever.dense.device
    if device == "auto":
        import torch

        return torch.cuda.is_available()
    return device.startswith("cuda")


def load_retriever(kind: str, index_dir: Path, corpus: Path, retriever: RetrieverConfig) -> Retriever:
    """Open a built index."""
    if kind == "bm25":
        from s3core.retrieval.bm25 import open_bm25

        return open_bm25(index_dir, corpus)
    if kind == "dense" and search_in_process(retriever):
        from s3core.retrieval.search_process import ProcessDenseRetriever

        return ProcessDenseRetriever(index_dir, corpus, retriever.dense, retriever.server.startup_timeout_s)
    if kind == "dense":
        from s3core.retrieval.dense import DenseRetriever

        return DenseRetriever(index_dir, corpus, retriever.dense)
    raise ValueError(f"unknown retriever kind {kind!r}; allowed: {list(KINDS)}")

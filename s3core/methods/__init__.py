"""Methods that turn questions into context files (one module each); selected by name in config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s3core.retrieval.client import RetrieverClient

Question = dict[str, Any]
ContextRow = dict[str, Any]


@dataclass(frozen=True)
class Method:
    """A named way to build contexts. `run` gets the questions, a retriever client (None when the method does
    not retrieve) and the config sections it may read (`retriever`, `search`, `searcher`, `searcher_model`).
    `retriever` is the index kind it needs; a searcher method uses `search.retriever` instead."""

    name: str
    retriever: str | None
    run: Callable[[list[Question], RetrieverClient | None, dict[str, Any]], list[ContextRow]]
    uses_searcher: bool = False

    def index_kind(self, search: dict[str, Any]) -> str | None:
        """The index this method queries under the given `search` config section."""
        return search["retriever"] if self.uses_searcher else self.retriever


def context_row(question: Question, method: str, docs: list[dict[str, str]], trace: str | None = None) -> ContextRow:
    """One row of a context file (DESIGN §2)."""
    return {
        "id": question["id"],
        "question": question["question"],
        "golden_answers": question["golden_answers"],
        "data_source": question["data_source"],
        "method": method,
        "docs": docs,
        "trace": trace,
    }


def get_method(name: str) -> Method:
    """The method registered under `name`."""
    from s3core.methods import direct, rag, s3

    registry = {m.name: m for m in (direct.METHOD, rag.RAG_BM25, rag.RAG_DENSE, s3.S3_STEP0, s3.S3)}
    if name not in registry:
        raise ValueError(f"unknown method {name!r}; known: {sorted(registry)}")
    return registry[name]

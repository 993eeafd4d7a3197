"""Naive RAG: the raw question (a MIRAGE question without its options) -> retriever -> top-k documents."""

from __future__ import annotations

from functools import partial

from s3core.config.sections import JobConfig
from s3core.data.rows import ContextRow, Question, context_row, search_text
from s3core.methods import Method
from s3core.retrieval.client import RetrieverClient


def run(method: str, questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    """`retriever.topk` documents per question."""
    hits = retriever.search([search_text(q) for q in questions], config.retriever.topk)
    return [context_row(q, method, [d.to_dict() for d in docs]) for q, docs in zip(questions, hits)]


RAG_BM25 = Method("rag_bm25", "RAG-BM25", partial(run, "rag_bm25"), retriever="bm25")
RAG_DENSE = Method("rag_dense", "RAG-dense", partial(run, "rag_dense"), retriever="dense")

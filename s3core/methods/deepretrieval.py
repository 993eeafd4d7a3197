"""DeepRetrieval: a query-rewriter model (trained with RL for retrieval recall) turns the question into a
Boolean keyword query, given as JSON in `<answer>`; BM25 retrieves the top-k documents with it."""

from __future__ import annotations

import re

from s3core.config.sections import JobConfig
from s3core.data.rows import ContextRow, Question, context_row, search_text
from s3core.generation import Messages
from s3core.methods import Method
from s3core.methods.models import policy_model
from s3core.retrieval.client import RetrieverClient
from s3core.search.actions import parse_query

PROMPT = (
    "Rewrite the question into a query for a BM25 keyword search engine that supports Boolean operators "
    "(AND, OR, parentheses) so that the documents holding its answer rank first. Think inside <think> and "
    "</think>, then give the query as JSON inside <answer> and </answer>, e.g. "
    '<answer>{{"query": "(\\"Pale Fire\\" OR Nabokov) AND novel"}}</answer>.\n\nQuestion: {question}'
)
ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)


def rewriter_messages(question: str) -> Messages:
    return [{"role": "user", "content": PROMPT.format(question=question)}]


def rewritten_query(output: str, question: str) -> str:
    """The query in the last `<answer>` (JSON or raw text; an unclosed tag counts); the question when none."""
    found = ANSWER.findall(output)
    query = parse_query(found[-1].strip()) if found else ""
    return query if query.strip() else question


def run(questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    own = config.baselines.deepretrieval
    model = policy_model("deepretrieval", own)
    outputs = model.complete(
        [rewriter_messages(search_text(q)) for q in questions],
        ["" for _ in questions],
        own.max_new_tokens,
        ["</answer>"],
    )
    queries = [rewritten_query(out, search_text(q)) for out, q in zip(outputs, questions)]
    hits = retriever.search(queries, own.topk)
    return [
        context_row(q, "deepretrieval", [d.to_dict() for d in docs], trace=f"{out}\nquery: {query}")
        for q, out, query, docs in zip(questions, outputs, queries, hits)
    ]


METHOD = Method("deepretrieval", "DeepRetrieval", run, retriever="bm25", section_key="baselines.deepretrieval")

"""Search-o1: a reasoning model that searches mid-thought with `<|begin_search_query|>…<|end_search_query|>`;
each search's documents are condensed by a reason-in-documents call and returned between
`<|begin_search_result|>` and `<|end_search_result|>`. The context is the raw documents of all searches."""

from __future__ import annotations

import re

from s3core.config.sections import JobConfig
from s3core.data.corpus import Document, format_docs
from s3core.data.rows import ContextRow, Question
from s3core.generation import Generator, Messages
from s3core.methods import Method
from s3core.methods.agent import Trail, run_agent, trail_rows
from s3core.methods.models import reasoner
from s3core.retrieval.client import RetrieverClient

BEGIN_QUERY, END_QUERY = "<|begin_search_query|>", "<|end_search_query|>"
BEGIN_RESULT, END_RESULT = "<|begin_search_result|>", "<|end_search_result|>"
SYSTEM = (
    "You are a reasoning assistant that can search the web. To search, write "
    f"{BEGIN_QUERY} your query {END_QUERY}; the system then returns what it found as "
    f"{BEGIN_RESULT} ... {END_RESULT}. You may search up to {{max_searches}} times. Reason step by step and finish "
    "with the final answer as \\boxed{{answer}}."
)
CONDENSE = (
    "Previous reasoning:\n{reasoning}\n\nSearch query: {query}\n\nSearched documents:\n{docs}\n\n"
    "Read the documents and write only the information that helps with the search query and the reasoning, "
    'beginning with "Final Information:". If nothing helps, write "Final Information: No helpful information found."'
)
QUERY = re.compile(re.escape(BEGIN_QUERY) + r"(.*?)(?:" + re.escape(END_QUERY) + "|$)", re.DOTALL)


def parse_query(output: str) -> tuple[str, str | None]:
    """The text up to and including the first search query, and the query (None when the model answered)."""
    found = QUERY.search(output)
    if not found or not found.group(1).strip():
        return output, None
    query = found.group(1).strip()
    return output[: found.start()] + f"{BEGIN_QUERY}{query}{END_QUERY}", query


def condensed(reply: str) -> str:
    """What follows "Final Information:" in a reason-in-documents reply (the whole reply when it is missing)."""
    _, marker, rest = reply.partition("Final Information:")
    return (rest if marker else reply).strip()


class SearchO1:
    stop = [END_QUERY]

    def __init__(self, model: Generator, max_searches: int, condense_max_new_tokens: int):
        self.model = model
        self.max_searches = max_searches
        self.condense_max_new_tokens = condense_max_new_tokens

    def first_query(self, question: Question) -> None:
        return None

    def messages(self, trail: Trail) -> Messages:
        return [
            {"role": "system", "content": SYSTEM.format(max_searches=self.max_searches)},
            {"role": "user", "content": trail.question["question"]},
        ]

    def read(self, output: str) -> tuple[str, str | None]:
        return parse_query(output)

    def observe(self, trails: list[Trail], queries: list[str], results: list[list[Document]]) -> list[str]:
        asks = [
            [{"role": "user", "content": CONDENSE.format(reasoning=t.text, query=q, docs=format_docs(docs))}]
            for t, q, docs in zip(trails, queries, results)
        ]
        replies = self.model.complete(asks, ["" for _ in asks], self.condense_max_new_tokens, None)
        return [f"\n{BEGIN_RESULT}{condensed(r)}{END_RESULT}\n" for r in replies]


def run(questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    """At most `max_searches` searches; context = the raw documents of every search, deduplicated."""
    own = config.baselines.search_o1
    model = reasoner(config)
    agent = SearchO1(model, own.max_searches, own.condense_max_new_tokens)
    trails = run_agent(questions, agent, model, retriever.search, own.topk, own.max_searches, own.max_new_tokens)
    return trail_rows(trails, "search_o1")


METHOD = Method("search_o1", "Search-o1", run, section_key="baselines.search_o1", uses_reasoner=True)

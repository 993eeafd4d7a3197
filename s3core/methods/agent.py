"""The loop the agentic baselines share (IRCoT, Search-o1, Search-R1): a model writes, its text may hold a search
query, the retriever answers, the observation is appended, and the model writes on from there.

Every active question generates in one batch per round and their queries go to the retriever in one request,
as in the s3 loop. A baseline describes itself with an `Agent`; the loop owns batching and the search budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from s3core.data.corpus import Document
from s3core.data.rows import ContextRow, Question, context_row
from s3core.generation import Generator, Messages
from s3core.search.rollout import Search
from s3core.search.selection import dedupe


@dataclass
class Trail:
    """One question's run: the model's text so far (observations included) and every document retrieved."""

    question: Question
    text: str = ""
    docs: list[Document] = field(default_factory=list)
    searches: int = 0
    done: bool = False


class Agent(Protocol):
    """What a baseline tells the loop: its prompt, how to read one round's output, how to show results."""

    stop: list[str]

    def first_query(self, question: Question) -> str | None:
        """A search made before the model writes anything (IRCoT retrieves with the question), or None."""

    def messages(self, trail: Trail) -> Messages:
        """The conversation the model continues; `trail.text` is the assistant's text so far."""

    def read(self, output: str) -> tuple[str, str | None]:
        """One round's output -> (text to keep, search query or None when the model is done)."""

    def observe(self, trails: list[Trail], queries: list[str], results: list[list[Document]]) -> list[str]:
        """The text appended after each search (batched: Search-o1 condenses results with a model call)."""


def run_agent(
    questions: list[Question],
    agent: Agent,
    model: Generator,
    search: Search,
    topk: int,
    max_searches: int,
    max_new_tokens: int,
) -> list[Trail]:
    """Run every question until the model stops searching or has made `max_searches` searches; the round
    after the last search lets the model finish. A `first_query` search is not counted."""
    trails = [Trail(q) for q in questions]
    first = [(t, agent.first_query(t.question)) for t in trails]
    _search([(t, q) for t, q in first if q], agent, search, topk)
    for _ in range(max_searches + 1):
        active = [t for t in trails if not t.done]
        if not active:
            break
        outputs = model.complete(
            [agent.messages(t) for t in active], [t.text for t in active], max_new_tokens, agent.stop
        )
        asks = []
        for trail, output in zip(active, outputs):
            kept, query = agent.read(output)
            trail.text += kept
            if query and trail.searches < max_searches:
                trail.searches += 1
                asks.append((trail, query))
            else:
                trail.done = True
        _search(asks, agent, search, topk)
    return trails


def _search(asks: list[tuple[Trail, str]], agent: Agent, search: Search, topk: int) -> None:
    """One retriever request for all `asks`; each trail gets its documents and the agent's observation."""
    if not asks:
        return
    trails, queries = [t for t, _ in asks], [q for _, q in asks]
    results = search(queries, topk)
    for trail, docs, observation in zip(trails, results, agent.observe(trails, queries, results)):
        trail.docs.extend(docs)
        trail.text += observation


def trail_rows(trails: list[Trail], method: str) -> list[ContextRow]:
    """Context rows: every retrieved document, deduplicated, in retrieval order; the model's text as trace."""
    return [context_row(t.question, method, [d.to_dict() for d in dedupe(t.docs)], trace=t.text) for t in trails]

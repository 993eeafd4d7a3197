"""Search-R1: a policy model trained with RL to reason in `<think>`, search with `<search>`, read
`<information>` and answer in `<answer>`. Its retrieved documents are the context for the shared generator."""

from __future__ import annotations

import re

from s3core.config.sections import JobConfig
from s3core.data.corpus import Document
from s3core.data.rows import ContextRow, Question
from s3core.generation import Messages
from s3core.methods import Method
from s3core.methods.agent import Trail, run_agent, trail_rows
from s3core.methods.models import policy_model
from s3core.retrieval.client import RetrieverClient
from s3core.search.prompt import observation

PROMPT = (
    "Answer the question below. Reason inside <think> and </think> whenever you receive new information. If "
    "you need knowledge you do not have, call the search engine with <search> query </search>; its top results "
    "come back between <information> and </information>. You may search as often as you need. When no more "
    "knowledge is needed, give only the answer inside <answer> and </answer>, e.g. <answer> Paris </answer>. "
    "Question: {question}\n"
)
TAG = re.compile(r"<(search|answer)>(.*?)(?:</\1>|$)", re.DOTALL)


def parse_turn(output: str) -> tuple[str, str | None]:
    """A turn ends at its first `</search>` or `</answer>`: the text to keep (closed) and the query, if any."""
    found = TAG.search(output)
    if not found:
        return output, None
    tag, content = found.group(1), found.group(2).strip()
    kept = output[: found.start()] + f"<{tag}> {content} </{tag}>"
    return kept, content if tag == "search" and content else None


class SearchR1:
    stop = ["</search>", "</answer>"]

    def first_query(self, question: Question) -> None:
        return None

    def messages(self, trail: Trail) -> Messages:
        return [{"role": "user", "content": PROMPT.format(question=trail.question["question"].strip())}]

    def read(self, output: str) -> tuple[str, str | None]:
        return parse_turn(output)

    def observe(self, trails: list[Trail], queries: list[str], results: list[list[Document]]) -> list[str]:
        """Search results as Search-R1's rollout renders them (the same observation as s3's)."""
        return [observation(docs) for docs in results]


def run(questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    """At most `max_turns` searches; context = all retrieved documents, deduplicated."""
    own = config.baselines.search_r1
    trails = run_agent(
        questions,
        SearchR1(),
        policy_model("search_r1", own),
        retriever.search,
        own.topk,
        own.max_turns,
        own.max_new_tokens,
    )
    return trail_rows(trails, "search_r1")


METHOD = Method("search_r1", "Search-R1", run, section_key="baselines.search_r1")

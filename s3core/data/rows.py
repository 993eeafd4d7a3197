"""The rows every stage hands on (docs/design.md §2): a QA set's questions and a context file's rows."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Question(TypedDict):
    """One row of a QA set (FlashRAG's layout); `query` where it is searched with other text (MIRAGE: the question
    without its options); `gold_docs`, the corpus ids of the documents that answer it, where known (a custom set's)."""

    id: str
    question: str
    golden_answers: list[str]
    data_source: str
    split: NotRequired[str]
    metadata: NotRequired[dict[str, Any]]
    query: NotRequired[str]
    gold_docs: NotRequired[list[str]]


class ContextRow(TypedDict):
    """One row of a context file: the documents a method hands the generator for one question."""

    id: str
    question: str
    golden_answers: list[str]
    data_source: str
    method: str
    docs: list[dict[str, str]]
    trace: str | None
    stats: NotRequired[dict[str, float]]
    gold_docs: NotRequired[list[str]]


def search_text(question: Question) -> str:
    """What a question is searched with: its `query` (MIRAGE: the question without its options), else itself."""
    return question.get("query") or question["question"]


def context_row(
    question: Question,
    method: str,
    docs: list[dict[str, str]],
    trace: str | None = None,
    stats: dict[str, float] | None = None,
) -> ContextRow:
    """One row of a context file (docs/design.md §2); an agent's episode adds its `stats` (turns, searches, ...), and
    a question with `gold_docs` hands them on (the evaluator scores the documents against them)."""
    row: ContextRow = {
        "id": question["id"],
        "question": question["question"],
        "golden_answers": question["golden_answers"],
        "data_source": question["data_source"],
        "method": method,
        "docs": docs,
        "trace": trace,
    }
    if stats is not None:
        row["stats"] = stats
    if "gold_docs" in question:
        row["gold_docs"] = question["gold_docs"]
    return row

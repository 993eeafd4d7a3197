"""Direct inference: the generator answers from its own knowledge (empty context)."""

from __future__ import annotations

from typing import Any

from s3core.methods import ContextRow, Method, Question, context_row


def run(questions: list[Question], _retriever: Any, _settings: dict[str, Any]) -> list[ContextRow]:
    return [context_row(q, "direct", []) for q in questions]


METHOD = Method("direct", None, run)

"""Direct inference and CoT: no retrieval, the generator answers from its own knowledge (empty context).
CoT differs only in how the shared evaluator asks: reason step by step, then the answer in `<answer>`."""

from __future__ import annotations

from functools import partial
from typing import Any

from s3core.config.sections import JobConfig
from s3core.data.rows import ContextRow, Question, context_row
from s3core.methods import Method


def run(method: str, questions: list[Question], _retriever: Any, _config: JobConfig) -> list[ContextRow]:
    return [context_row(q, method, []) for q in questions]


DIRECT = Method("direct", "Direct", partial(run, "direct"))
COT = Method("cot", "CoT", partial(run, "cot"), answer_style="cot")

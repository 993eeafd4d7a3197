"""The s3 reward, Gain Beyond RAG, and the training-question filter built on the naive-RAG cache."""

from __future__ import annotations

from typing import Any

BOOLEAN_ANSWERS = {"yes", "no", "true", "false"}


def gain_beyond_rag(s3_genacc: float, rag_genacc: float, form: str) -> float:
    """`gbr`: GenAcc(s3) − GenAcc(RAG) (paper); `upstream`: 2·GenAcc(s3) − GenAcc(RAG) (upstream code)."""
    if form == "gbr":
        return s3_genacc - rag_genacc
    if form == "upstream":
        return 2 * s3_genacc - rag_genacc
    raise ValueError(f"reward.form must be 'gbr' or 'upstream', not {form!r}")


def is_yes_no(golden_answers: list[str]) -> bool:
    """Any gold answer is yes, no, true or false, in any case (upstream's training filter)."""
    return any(answer.lower() in BOOLEAN_ANSWERS for answer in golden_answers)


def training_pool(cache: list[dict[str, Any]], drop_rag_correct: bool, drop_yes_no: bool) -> list[dict[str, Any]]:
    """The naive-RAG cache rows PPO trains on (each keeps its initial docs and its RAG GenAcc)."""
    return [row for row in cache
            if not (drop_rag_correct and row["genacc"] >= 1.0) and not (drop_yes_no and is_yes_no(row["golden_answers"]))]

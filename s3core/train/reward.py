"""The s3 reward, Gain Beyond RAG, and the training-question filter built on the naive-RAG cache."""

from __future__ import annotations

from typing import Any

from s3core.errors import DataError

BOOLEAN_ANSWERS = {"yes", "no", "true", "false"}


#: The score a reward's gain is measured in (`reward.metric`), read off an answer row of `s3core.evaluate`.
METRICS = {
    "genacc": lambda row: row["genacc"],
    "span": lambda row: float(row["span"]),
    "em": lambda row: row["em"],
    "judge": lambda row: float(row["judge"]),
}


def metric_value(row: dict[str, Any], metric: str) -> float:
    """An answer row's score in `metric`; the judge's verdict must be there (asked on every row)."""
    if metric == "judge" and row.get("judge") is None:
        raise DataError(
            f"question {row.get('id')!r}: reward.metric 'judge' needs the judge's verdict on every answer, "
            "but this row has none; rebuild the naive-RAG cache (rule precompute) with reward.metric "
            "'judge' and judge.enabled true"
        )
    return METRICS[metric](row)


def gain_beyond_rag(s3_genacc: float, rag_genacc: float, form: str) -> float:
    """`gbr`: GenAcc(s3) − GenAcc(RAG) (paper); `upstream`: 2·GenAcc(s3) − GenAcc(RAG) (upstream code)."""
    if form == "gbr":
        return s3_genacc - rag_genacc
    if form == "upstream":
        return 2 * s3_genacc - rag_genacc
    raise ValueError(f"reward.form must be 'gbr' or 'upstream', not {form!r}")


def gain_shares(gains: list[float]) -> dict[str, float]:
    """The GBR distribution of a step: the share of its episodes whose gain is below, at and above zero."""
    count = max(len(gains), 1)
    return {
        "gbr_below": sum(g < 0 for g in gains) / count,
        "gbr_zero": sum(g == 0 for g in gains) / count,
        "gbr_above": sum(g > 0 for g in gains) / count,
    }


def is_yes_no(golden_answers: list[str]) -> bool:
    """Any gold answer is yes, no, true or false, in any case (upstream's training filter)."""
    return any(answer.lower() in BOOLEAN_ANSWERS for answer in golden_answers)


def training_pool(cache: list[dict[str, Any]], drop_rag_correct: bool, drop_yes_no: bool) -> list[dict[str, Any]]:
    """The naive-RAG cache rows PPO trains on (each keeps its initial docs and its RAG GenAcc)."""
    return [
        row
        for row in cache
        if not (drop_rag_correct and row["genacc"] >= 1.0) and not (drop_yes_no and is_yes_no(row["golden_answers"]))
    ]

"""The s3 reward, Gain Beyond RAG: finished episodes scored by the frozen generator against the naive-RAG cache,
and the training-question filter built on that cache. Both training engines (the local trainer, verl) use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from s3core.config.sections import RewardConfig
from s3core.data.corpus import Document
from s3core.data.rows import Question, context_row
from s3core.errors import DataError
from s3core.evaluation.evaluator import answer_contexts
from s3core.generation import Generator
from s3core.search.episode import Episode

BOOLEAN_ANSWERS = {"yes", "no", "true", "false"}


#: The score a reward's gain is measured in (`reward.metric`), read off an answer row of `s3core.evaluation.evaluator`.
METRICS: dict[str, Callable[[Mapping[str, Any]], float]] = {
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


def initial_docs(item: dict[str, Any], topk: int) -> list[Document]:
    """The naive-RAG documents a cache row's episode starts from."""
    return [Document.from_row(d) for d in item["docs"][:topk]]


def score_episodes(
    items: list[dict[str, Any]],
    episodes: list[Episode],
    generator: Generator,
    judge: Generator | None,
    reward: RewardConfig,
) -> list[tuple[float, dict[str, float]]]:
    """(reward, facts) per finished episode: the generator answers from its selected documents; the reward is
    Gain Beyond RAG (`reward.form`) in `reward.metric` against the row's cached naive-RAG answer."""
    metric = reward.metric
    questions = cast(list[Question], items)  # a cache row holds its question's keys
    contexts = [context_row(q, "s3", [d.to_dict() for d in e.selected_docs()]) for q, e in zip(questions, episodes)]
    answers = answer_contexts(contexts, generator, judge, context_format="selected", judge_every_row=metric == "judge")
    scored = []
    for row, episode, answer in zip(items, episodes, answers):
        ours, rag = metric_value(answer, metric), metric_value(row, metric)
        info = {"genacc": answer["genacc"], "rag_genacc": row["genacc"], "gbr": ours - rag, **episode.stats()}
        scored.append((gain_beyond_rag(ours, rag, reward.form), info))
    return scored

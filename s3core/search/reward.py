"""The s3 reward, Gain Beyond RAG: finished episodes scored by the frozen generator against the naive-RAG cache,
and the training-question filter built on that cache. Both training engines (the local trainer, verl) use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from s3core.config.sections import RewardConfig
from s3core.data.corpus import Document
from s3core.data.rows import Question, context_row
from s3core.errors import DataError
from s3core.evaluation.evaluator import answer_contexts
from s3core.generation import Generator
from s3core.search.episode import Episode

BOOLEAN_ANSWERS = {"yes", "no", "true", "false"}


@dataclass(frozen=True)
class RewardMetric:
    """A score the reward's gain can be measured in (`reward.metric`): read off an answer row of
    `s3core.evaluation.evaluator`; `judge_every_row` when the judge must answer every row (the naive-RAG cache
    too); `paper_row` its row in the paper's Table 5."""

    score: Callable[[Mapping[str, Any]], float]
    paper_row: str
    judge_every_row: bool = False


#: reward.metric -> its metric (the schema's enum is checked against these keys)
METRICS = {
    "genacc": RewardMetric(lambda row: row["genacc"], "GenAcc"),
    "judge": RewardMetric(lambda row: float(row["judge"]), "LLMJudge", judge_every_row=True),
    "span": RewardMetric(lambda row: float(row["span"]), "Span"),
    "em": RewardMetric(lambda row: row["em"], "EM"),
}
#: reward.form -> the reward from (GenAcc of s3's documents, GenAcc of naive RAG's), in the metric
FORMS: dict[str, Callable[[float, float], float]] = {
    "gbr": lambda ours, rag: ours - rag,  # Gain Beyond RAG, the paper's
    "upstream": lambda ours, rag: 2 * ours - rag,  # upstream's code
}


def metric_value(row: dict[str, Any], metric: str) -> float:
    """An answer row's score in `metric`; the judge's verdict must be there (asked on every row)."""
    if METRICS[metric].judge_every_row and row.get("judge") is None:
        raise DataError(
            f"question {row.get('id')!r}: reward.metric 'judge' needs the judge's verdict on every answer, "
            "but this row has none; rebuild the naive-RAG cache (rule precompute) with reward.metric "
            "'judge' and judge.enabled true"
        )
    return METRICS[metric].score(row)


def gain_beyond_rag(s3_genacc: float, rag_genacc: float, form: str) -> float:
    """`gbr`: GenAcc(s3) − GenAcc(RAG) (paper); `upstream`: 2·GenAcc(s3) − GenAcc(RAG) (upstream code)."""
    if form not in FORMS:
        raise ValueError(f"reward.form must be one of {', '.join(FORMS)}, not {form!r}")
    return FORMS[form](s3_genacc, rag_genacc)


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
    every_row = METRICS[metric].judge_every_row
    answers = answer_contexts(contexts, generator, judge, context_format="selected", judge_every_row=every_row)
    scored = []
    for row, episode, answer in zip(items, episodes, answers):
        ours, rag = metric_value(answer, metric), metric_value(row, metric)
        info = {"genacc": answer["genacc"], "rag_genacc": row["genacc"], "gbr": ours - rag, **episode.stats()}
        scored.append((gain_beyond_rag(ours, rag, reward.form), info))
    return scored

"""The shared evaluator: context rows -> generator answers -> EM, F1, span, judge, GenAcc."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from s3core.data.corpus import Document
from s3core.data.traits import traits
from s3core.errors import DataError
from s3core.evaluation.metrics import exact_match, judge_messages, parse_judge, span_match, token_f1
from s3core.evaluation.retrieval_metrics import retrieval_scores
from s3core.generation import Generator
from s3core.generation.prompts import generator_messages

JUDGE_MAX_NEW_TOKENS = 10
#: MIRAGE's medical sets (by `data_source`): scored by the judge alone, with no span check (paper App. A.4).
ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)
ANSWER_IS = re.compile(r"answer is:?\s*(.+)", re.IGNORECASE)


def cot_answer(text: str) -> str:
    """The final answer of a chain of thought: the last `<answer>` (closed or not); without the tag, what
    follows the last "answer is", else the last non-empty line."""
    tagged = ANSWER_TAG.findall(text)
    if tagged:
        return tagged[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    said = ANSWER_IS.findall(lines[-1])
    return (said[-1] if said else lines[-1]).strip().rstrip(".")


def score(answer: str, golds: list[str]) -> dict[str, Any]:
    """String metrics of one answer."""
    return {"em": exact_match(answer, golds), "f1": token_f1(answer, golds), "span": span_match(answer, golds)}


def check_golds(rows: Sequence[Mapping[str, Any]]) -> None:
    """Every row's `golden_answers` is a list of strings (a bare string would be scored letter by letter)."""
    for row in rows:
        golds = row.get("golden_answers")
        if not isinstance(golds, list) or not all(isinstance(gold, str) for gold in golds):
            raise DataError(
                f"question {row.get('id')!r}: golden_answers must be a list of strings, got {golds!r}; "
                'write it as a JSON list, e.g. ["Paris"]'
            )


def judge_only(row: dict[str, Any]) -> bool:
    """Rows of a MIRAGE set, whose GenAcc is the judge's verdict alone."""
    return traits(row["data_source"]).judge_only


def ask_judge(judge_model: Generator, rows: list[dict[str, Any]]) -> list[bool]:
    """The judge's verdict per row; an unclear reply (neither yes nor no) is asked once more, then counts wrong."""
    if not rows:
        return []
    conversations = [judge_messages(r["answer"], r["golden_answers"]) for r in rows]
    verdicts = [parse_judge(reply) for reply in judge_model.chat(conversations, JUDGE_MAX_NEW_TOKENS)]
    unclear = [i for i, verdict in enumerate(verdicts) if verdict is None]
    if unclear:
        replies = judge_model.chat([conversations[i] for i in unclear], JUDGE_MAX_NEW_TOKENS)
        for i, reply in zip(unclear, replies):
            verdicts[i] = parse_judge(reply)
    return [bool(verdict) for verdict in verdicts]


def judge(rows: list[dict[str, Any]], judge_model: Generator | None, every_row: bool = False) -> None:
    """Fill `judge` (None when not asked) and `genacc`: the span check, else the judge's verdict; on a MIRAGE set
    the judge's verdict alone. Without a judge GenAcc is the span check. The judge is asked where the span check
    failed, or on `every_row` (a judge-only reward, `reward.metric: judge`; GenAcc is the same)."""
    if judge_model is None:
        for row in rows:
            row["judge"], row["genacc"] = None, float(row["span"])
        return
    ask = [row for row in rows if every_row or judge_only(row) or not row["span"]]
    verdicts = dict(zip(map(id, ask), ask_judge(judge_model, ask)))
    for row in rows:
        row["judge"] = verdicts.get(id(row))
        row["genacc"] = float(bool(row["judge"] if judge_only(row) else row["span"] or row["judge"]))


def answer_contexts(
    contexts: Sequence[Mapping[str, Any]],
    generator: Generator,
    judge_model: Generator | None,
    style: str = "direct",
    max_new_tokens: int | None = None,
    context_format: str = "rag",
    judge_every_row: bool = False,
) -> list[dict[str, Any]]:
    """Answer every context row with the frozen generator and score it (docs/design.md §2, answer file). Style "cot"
    lets the generator reason first; `raw_answer` keeps its whole output, `answer` the extracted answer.
    `context_format` renders the documents: "rag" (retrieval dump) or "selected" (the s3 searcher's). A row with
    `gold_docs` also gets the recall and nDCG of its documents (`s3core.evaluation.retrieval_metrics`)."""
    check_golds(contexts)
    conversations = [
        generator_messages(
            row["question"], [Document.from_row(d) for d in row["docs"]], style, context_format, generator.prompt_format
        )
        for row in contexts
    ]
    outputs = generator.chat(conversations, max_new_tokens)
    answers = [cot_answer(o) for o in outputs] if style == "cot" else outputs
    rows = [
        {
            **row,
            "generator": generator.name,
            "answer": answer,
            "raw_answer": output,
            **score(answer, row["golden_answers"]),
            **retrieval_scores(row),
        }
        for row, answer, output in zip(contexts, answers, outputs)
    ]
    judge(rows, judge_model, judge_every_row)
    return rows

"""Rules precompute, infer and evaluate: the naive-RAG cache of the training questions, a method's context file,
and a context file answered and scored by a frozen generator."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import cast

from s3core.config.sections import JobConfig, RewardConfig, SearchConfig
from s3core.data.jsonl import QUESTION_KEYS, read_rows, write_jsonl
from s3core.data.rows import Question
from s3core.stages.services import Answering, RetrieverAccess, retriever_client

log = logging.getLogger("s3core")


def _questions(qa: Path) -> list[Question]:
    """The QA set's rows, each checked to have the keys (and types) of a Question."""
    return cast(list[Question], read_rows(qa, QUESTION_KEYS, "questions"))


def precompute(
    qa: Path, out: Path, access: RetrieverAccess, search: SearchConfig, answering: Answering, reward: RewardConfig
) -> None:
    """Each training question's naive-RAG documents (`search.retriever`, `search.initial_topk`), the generator's
    answer from them and its GenAcc (the judge answers on every row when `reward.metric` is judge)."""
    from s3core.data.rows import context_row, search_text
    from s3core.evaluation.evaluator import answer_contexts
    from s3core.search.reward import METRICS

    questions = _questions(qa)
    with ExitStack() as stack:
        client = retriever_client(stack, search.retriever, access)
        hits = client.search([search_text(q) for q in questions], search.initial_topk)
    contexts = [context_row(q, "rag", [d.to_dict() for d in docs]) for q, docs in zip(questions, hits)]
    generator, judge_model = answering.load()
    rows = answer_contexts(contexts, generator, judge_model, judge_every_row=METRICS[reward.metric].judge_every_row)
    write_jsonl(out, rows)
    correct = sum(r["genacc"] for r in rows)
    log.info("naive-RAG cache: %d questions, %d answered correctly -> %s", len(rows), correct, out)


def infer(
    method_label: str, qa: Path, out: Path, access: RetrieverAccess, config: JobConfig, limit: int | None
) -> None:
    """Run the method (or s3 run) `method_label` over the QA set with the job's config sections (an s3 method's
    searcher is `config.searcher.model`)."""
    from s3core.methods import get_method

    method = get_method(method_label)
    questions = _questions(qa)[:limit]
    with ExitStack() as stack:
        kind = method.index_kind(config)
        client = retriever_client(stack, kind, access) if kind else None
        rows = method.run(questions, client, config)
    write_jsonl(out, [{**row, "method": method_label} for row in rows])  # an s3 run's rows carry its label
    log.info("%s: %d context rows in %s", method.name, len(rows), out)


def evaluate(contexts_path: Path, out: Path, answering: Answering, cot_max_new_tokens: int) -> None:
    """Answer every row of a context file with the generator, judge it, and score it (EM, F1, GenAcc)."""
    from s3core.evaluation.evaluator import answer_contexts
    from s3core.methods import get_method

    contexts = read_rows(contexts_path, {**QUESTION_KEYS, "method": str, "docs": list}, "contexts")
    method = get_method(contexts[0]["method"])
    generator, judge_model = answering.load()
    budget = cot_max_new_tokens if method.answer_style == "cot" else None
    rows = answer_contexts(contexts, generator, judge_model, method.answer_style, budget, method.context_format)
    write_jsonl(out, rows)
    mean = sum(r["genacc"] for r in rows) / max(len(rows), 1)
    log.info(
        "%s with %s: GenAcc %.3f over %d questions -> %s", contexts_path, answering.generator, mean, len(rows), out
    )

"""s3 inference: the searcher (untrained, trained here, or upstream's released checkpoint) runs its episodes greedily;
the selected documents are the context. The initial block is the question's naive-RAG top-k from the same retriever;
the first message is `searcher.prompt_file`'s when set (the prompt a checkpoint was trained with), else ours."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any

from s3core.config.sections import JobConfig, SearcherConfig
from s3core.data.rows import ContextRow, Question, context_row, search_text
from s3core.methods import Method
from s3core.retrieval.client import RetrieverClient
from s3core.search.hf_policy import load_policy
from s3core.search.prompt import load_prompt
from s3core.search.rollout import play

log = logging.getLogger(__name__)


def run(method: str, questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    """`config.searcher.model` is the searcher (the base model for s3_step0, the trained one for s3, upstream's
    checkpoint for s3_released)."""
    search, searcher = config.search, config.searcher
    initial = retriever.search([search_text(q) for q in questions], search.initial_topk)
    prompt = load_prompt(searcher.prompt_file)
    with searcher_policy(searcher) as policy:
        episodes = play(questions, initial, policy, retriever.search, search, temperature=0.0, prompt=prompt)
    log.info("%s", summary(episodes))
    return [
        context_row(q, method, [d.to_dict() for d in e.selected_docs()], trace=e.transcript(), stats=e.stats())
        for q, e in zip(questions, episodes)
    ]


def searcher_policy(searcher: SearcherConfig) -> AbstractContextManager:
    """The searcher on the engine `searcher.inference` names: transformers in this job, or a vLLM server."""
    if searcher.inference == "vllm":
        from s3core.search.vllm_policy import served_policy

        return served_policy(searcher)
    return nullcontext(load_policy(searcher))


def summary(episodes: list[Any]) -> str:
    """Searches per episode, in words (the job's log)."""
    searches = [e.searches for e in episodes]
    return (
        f"{sum(s > 0 for s in searches)} of {len(searches)} episodes searched; "
        f"{sum(searches) / max(len(searches), 1):.2f} searches per episode"
    )


def _s3_method(name: str, label: str) -> Method:
    return Method(name, label, partial(run, name), section_key="search", uses_searcher=True, context_format="selected")


S3_STEP0 = _s3_method("s3_step0", "s3 (step 0)")
S3 = _s3_method("s3", "s3")
S3_RELEASED = _s3_method("s3_released", "s3 (released)")

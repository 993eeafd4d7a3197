"""QA sets as upstream prepares them: question and answer normalisation and the evaluation sample.

Upstream (`test_s3.py`, `test_s3_sampled.py`; each set's split, test else dev, is named in the config): PopQA is
deduplicated by normalised question; a set of more than its size (upstream: 3,000) is sampled as pandas'
`sample(n, random_state=seed)` does; walking the sets in order, a question an earlier set already took is
skipped; a set keeps its rows whose question was taken, in the file's order.
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np

from s3core.data.traits import traits

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_question(question: str) -> str:
    """Stripped, with `?` appended when missing: the form every prompt and cache key uses."""
    question = question.strip()
    return question if question.endswith("?") else question + "?"


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation, which the metrics compare in: lowercase, strip ASCII punctuation, drop
    articles, squeeze whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def qa_sources(spec: dict[str, Any]) -> list[str]:
    """The sources of an `assets.train` / `assets.eval.<set>` entry (one, or several pooled)."""
    return [spec["source"]] if isinstance(spec["source"], str) else list(spec["source"])


def dedupe_questions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first row of each normalised question."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        question = normalize_question(row["question"])
        if question not in seen:
            seen.add(question)
            kept.append(row)
    return kept


def sample_positions(count: int, size: int, seed: int) -> list[int]:
    """Row positions of pandas' `DataFrame.sample(n=size, random_state=seed)` (all rows when `size` >= `count`), in
    the sampled order."""
    if size >= count:
        return list(range(count))
    return np.random.RandomState(seed).permutation(count)[:size].tolist()


def sample_rows(rows: list[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """At most `size` rows drawn as `sample_positions` draws them, in their original order."""
    return [rows[i] for i in sorted(sample_positions(len(rows), size, seed))]


def sample_eval_sets(
    sets: dict[str, list[dict[str, Any]]], sizes: dict[str, int], seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Upstream's evaluation sample of every set (in the order given), at most `sizes[name]` questions each, rows
    in file order."""
    taken: set[str] = set()
    sampled = {}
    for name, rows in sets.items():
        rows = dedupe_questions(rows) if traits(name).deduplicated else rows
        own: set[str] = set()
        for position in sample_positions(len(rows), sizes[name], seed):
            question = normalize_question(rows[position]["question"])
            if question not in taken:
                taken.add(question)
                own.add(question)
        sampled[name] = [row for row in rows if normalize_question(row["question"]) in own]
    return sampled

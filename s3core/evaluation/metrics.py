"""Answer metrics of the s3 paper and its code: normalisation, EM, token F1, span check, and the LLM judge.

GenAcc = span check, falling back to the judge when the span check fails (see `s3core.evaluation.evaluator`).
Normalisation is the SQuAD one upstream uses: lowercase, ASCII punctuation removed, articles
a/an/the dropped, whitespace squeezed. Non-ASCII punctuation and accents are kept, as upstream does.
The span check is pyserini's `has_answers(..., SimpleTokenizer(), regex=False)` on normalised strings.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

import regex

from s3core.data.qa import normalize_answer

# pyserini's SimpleTokenizer: runs of letters/digits/marks, or any single other non-space, non-control character.
_SPAN_TOKEN = regex.compile(
    r"([\p{L}\p{N}\p{M}]+)|([^\p{Z}\p{C}])", flags=regex.IGNORECASE | regex.UNICODE | regex.MULTILINE
)

JUDGE_PROMPT = (
    "Please check if any of the golden answers is contained in the following response: {response}\n\n"
    "Golden answers: {golds}\n\nPlease directly answer with 'yes' or 'no'."
)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Token-level F1 between normalised strings, max over golds (0 for empty prediction or golds)."""
    pred_tokens = normalize_answer(prediction).split()
    return max((_f1(pred_tokens, normalize_answer(g).split()) for g in golds), default=0.0)


def span_tokens(text: str) -> list[str]:
    """pyserini's SimpleTokenizer words of `text` after NFD normalisation, lowercased."""
    return [match.group().lower() for match in _SPAN_TOKEN.finditer(unicodedata.normalize("NFD", text))]


def _contains(tokens: list[str], part: list[str]) -> bool:
    return any(tokens[i : i + len(part)] == part for i in range(len(tokens) - len(part) + 1))


def span_match(prediction: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold's tokens occur contiguously in the normalised prediction's tokens (upstream's
    span check). A gold that normalises to nothing matches nothing (upstream: everything)."""
    pred = span_tokens(normalize_answer(prediction))
    return any(gold and _contains(pred, gold) for gold in (span_tokens(normalize_answer(g)) for g in golds))


def judge_messages(prediction: str, golds: Sequence[str]) -> list[dict[str, str]]:
    """The judge's one user message: is any golden answer (as a Python list) contained in the response?"""
    return [{"role": "user", "content": JUDGE_PROMPT.format(response=prediction, golds=str(list(golds)))}]


def parse_judge(reply: str) -> bool | None:
    """True when 'yes' occurs anywhere in the lowercased reply, else False when 'no' does, else None (unclear)."""
    lowered = reply.lower()
    if "yes" in lowered:
        return True
    return False if "no" in lowered else None

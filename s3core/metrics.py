"""Answer metrics of the s3 paper: normalisation, EM, token F1, span check, and the LLM-judge prompt.

GenAcc = span check, falling back to the judge when the span check fails (see `s3core.evaluate`).
Normalisation is the SQuAD one upstream uses: lowercase, ASCII punctuation removed, articles
a/an/the dropped, whitespace squeezed. Non-ASCII punctuation and accents are kept, as upstream does.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, strip ASCII punctuation, drop articles, squeeze whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


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


def span_match(prediction: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold occurs as a contiguous token span of the normalised prediction."""
    pred = f" {normalize_answer(prediction)} "
    return any(gold and f" {gold} " in pred for gold in (normalize_answer(g) for g in golds))


def judge_messages(prediction: str, golds: Sequence[str]) -> list[dict[str, str]]:
    """Chat messages asking a judge whether any golden answer is contained in the response."""
    content = (
        "Decide whether a response contains the correct answer.\n"
        f"Response: {prediction}\n"
        f"Golden answers: {', '.join(golds)}\n"
        "Is any of the golden answers contained in the response? Reply with only 'yes' or 'no'."
    )
    return [{"role": "user", "content": content}]


def parse_judge(reply: str) -> bool:
    """A judge reply counts as correct when its first word is 'yes'."""
    words = normalize_answer(reply).split()
    return bool(words) and words[0] == "yes"

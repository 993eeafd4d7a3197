"""Retrieval metrics of the documents a method hands the generator, where a question names its gold documents
(`gold_docs`, corpus ids): binary relevance, the documents in the order the context row gives them (a gold id
handed over again counts only at its first place).

- recall@k = gold documents among the first k handed over / all gold documents;
- nDCG@k = DCG@k / IDCG@k, DCG@k = sum over the first k places i (from 1) of rel_i / log2(i + 1), IDCG@k the DCG of
  min(k, gold documents) relevant documents in front (a method that hands over fewer than k documents is not
  excused);
- k = 3 (naive RAG's top-3, the documents per step of the agentic baselines, s3's selections per turn) and
  k = "all", every document handed over (s3's whole selection; Search-R1's every retrieved document).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The cut-offs scored: 3, and None for every document handed over ("all").
CUTOFFS: tuple[int | None, ...] = (3, None)


def _gains(ranked: list[str], gold: set[str]) -> list[int]:
    """1 at each place holding a gold document for the first time, else 0."""
    seen: set[str] = set()
    gains = []
    for doc_id in ranked:
        gains.append(int(doc_id in gold and doc_id not in seen))
        seen.add(doc_id)
    return gains


def recall_at_k(ranked: list[str], gold: set[str], k: int | None) -> float:
    """Share of `gold` among the first `k` of `ranked` (None: all of them)."""
    return sum(_gains(ranked[:k], gold)) / len(gold)


def ndcg_at_k(ranked: list[str], gold: set[str], k: int | None) -> float:
    """Binary nDCG of the first `k` of `ranked` (None: all of them); 0 when nothing is handed over."""
    gains = _gains(ranked[:k], gold)
    depth = len(gains) if k is None else k
    dcg = sum(gain / math.log2(place + 1) for place, gain in enumerate(gains, start=1))
    ideal = sum(1 / math.log2(place + 1) for place in range(1, min(depth, len(gold)) + 1))
    return dcg / ideal if ideal else 0.0


def retrieval_scores(row: Mapping[str, Any]) -> dict[str, float]:
    """`recall@3`, `ndcg@3`, `recall@all`, `ndcg@all` of a context row with `gold_docs`; {} for a row without."""
    gold = set(row.get("gold_docs") or ())
    if not gold:
        return {}
    ranked = [str(doc["id"]) for doc in row["docs"]]
    scores = {}
    for k in CUTOFFS:
        label = "all" if k is None else str(k)
        scores[f"recall@{label}"] = recall_at_k(ranked, gold, k)
        scores[f"ndcg@{label}"] = ndcg_at_k(ranked, gold, k)
    return scores

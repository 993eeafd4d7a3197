"""What a QA set's data source implies for how it is sampled and scored: one table, keyed by data source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceTraits:
    """`judge_only`: GenAcc is the judge's verdict alone (MIRAGE's multiple-choice sets, the medical suite);
    `deduplicated`: deduplicated by normalised question before the evaluation sample is drawn (upstream's PopQA)."""

    judge_only: bool = False
    deduplicated: bool = False


#: data source -> its traits; a source not listed has none (general QA, a set of your own)
TRAITS = {
    "popqa": SourceTraits(deduplicated=True),
    **{source: SourceTraits(judge_only=True) for source in ("medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu")},
}


def traits(source: str) -> SourceTraits:
    return TRAITS.get(source, SourceTraits())

"""The trained s3 searchers a config asks for: the base run, each named ablation (config `ablations`: overrides of
the `search`, `searcher`, `train` and `reward` sections), each once per training seed (config `seeds`).

A run's label is its method name in every path and table: `s3` (the base, first seed), `s3.<ablation>`, and
`.seed<N>` after either for each further seed (`s3.seed7`, `s3.no_selection.seed7`)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from s3core.config.overrides import merged
from s3core.search.reward import METRICS

#: What shapes the naive-RAG cache besides its generator: the initial search (`search.retriever`,
#: `search.initial_topk`) and whether the judge answers on every row (`reward.metric: judge`). The other metrics
#: (genacc, span, em) are read off the same answer rows, so runs that differ only in them share one cache.
CACHE_SEARCH_KEYS = ("retriever", "initial_topk")
_SEED = re.compile(r"\.seed(\d+)$")


@dataclass(frozen=True)
class S3Run:
    """One training run: `label` (path part and table row), its `ablation` (None: the base), its `seed` and the
    run's own `search`/`searcher`/`train`/`reward` sections (`train.seed` = `seed`)."""

    label: str
    ablation: str | None
    seed: int
    sections: dict[str, dict[str, Any]]

    @property
    def group(self) -> str:
        """The label without its seed: the table row its seeds are averaged into."""
        return seedless(self.label)


def seedless(label: str) -> str:
    """`s3.no_selection` of `s3.no_selection.seed7`; other labels unchanged."""
    return _SEED.sub("", label)


def s3_runs(config: dict[str, Any]) -> list[S3Run]:
    """Every run of a validated config, the base first, each ablation in config order, seeds in config order."""
    seeds = config["seeds"] or [config["train"]["seed"]]
    variants = {None: {}, **config["ablations"]}
    runs = []
    for ablation, overrides in variants.items():
        sections = merged(config, overrides)
        group = "s3" if ablation is None else f"s3.{ablation}"
        for index, seed in enumerate(seeds):
            own = copy.deepcopy(sections)
            own["train"]["seed"] = seed
            runs.append(S3Run(group if index == 0 else f"{group}.seed{seed}", ablation, seed, own))
    return runs


def cache_key(run: S3Run, default_generator: str) -> tuple[Any, ...]:
    """What a run's naive-RAG cache is made with: its initial search, its reward generator, and whether the judge
    answers every row."""
    search, reward = run.sections["search"], run.sections["reward"]
    return (
        *(search[key] for key in CACHE_SEARCH_KEYS),
        reward["generator"] or default_generator,
        METRICS[reward["metric"]].judge_every_row,
    )


def cache_names(runs: list[S3Run], default_generator: str) -> dict[str, str]:
    """Label -> the naive-RAG cache the run trains from: `train` for the runs whose `cache_key` equals the base
    run's (the first), else `train.<ablation>` of the first run with the same key (the judge on every row, another
    initial search or reward generator changes the cache; a budget, ablation, length, seed or another metric read
    off the same rows does not)."""
    names: dict[str, str] = {}
    firsts: list[S3Run] = []
    for run in runs:
        key = cache_key(run, default_generator)
        first = next((f for f in firsts if cache_key(f, default_generator) == key), None)
        if first is None:
            firsts.append(first := run)
        names[run.label] = "train" if first is runs[0] else f"train.{first.ablation}"
    return names

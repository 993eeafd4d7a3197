"""Our results beside the paper's (its Tables 1 and 2, `resources/paper_results.csv`): every cell the paper prints,
with ours, the difference and a flag where it exceeds the tolerance; a paper row this run did not produce is
"not run", never dropped."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from s3core.jsonl import atomic_open

#: The paper's row labels and the method of ours that reproduces each (IRCoT and Search-o1: the row whose searcher
#: size is the reasoner's).
METHOD_OF_ROW = {"Direct Inference": "direct", "w/o retrieval": "direct", "CoT": "cot", "RAGBM25": "rag_bm25",
                 "RAGE5": "rag_dense", "DeepRetrievalBM25": "deepretrieval", "Search-R1-7B (Ret)": "search_r1",
                 "s3": "s3", "IRCoT": "ircot", "IRCoT (self)": "ircot", "Search-o1": "search_o1"}
REASONED = {"ircot", "search_o1"}
#: The paper's generator blocks and the model each names (matched without case in our generator's name or model id).
BLOCK_MODELS = {"Qwen2.5-7B-Instruct": "qwen2.5-7b-instruct", "Qwen2.5-14B-Instruct": "qwen2.5-14b-instruct",
                "Claude-3-Haiku": "claude-3-haiku"}
TABLE_TITLES = {"1": "Table 1: general QA", "2": "Table 2: medical QA (MIRAGE)"}


def paper_cells() -> pd.DataFrame:
    """The paper's cells: table, block, corpus, row, searcher, train, dataset, genacc, em."""
    with files("s3core.resources").joinpath("paper_results.csv").open() as handle:
        return pd.read_csv(handle, comment="#", dtype={"table": str})


def model_size(model: str) -> str | None:
    """`7B` of `Qwen/Qwen2.5-7B-Instruct`."""
    found = re.search(r"(\d+(?:\.\d+)?)B\b", model, re.IGNORECASE)
    return f"{found[1]}B" if found else None


def generator_blocks(generators: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Our generator per paper block it stands for: the one whose name or model id names the paper's model."""
    return {block: name for block, needle in BLOCK_MODELS.items() for name, g in generators.items()
            if needle in name.lower() or needle in g["model"].lower()}


def our_method(row: pd.Series, reasoner_size: str | None) -> str | None:
    """The method of ours a paper row stands for (None: not one we run)."""
    method = METHOD_OF_ROW.get(row["row"])
    if method in REASONED and row["searcher"] != reasoner_size:
        return None
    return method


def compare(ours: pd.DataFrame, generators: dict[str, dict[str, Any]], reasoner: str,
            tolerance: float) -> pd.DataFrame:
    """Every paper cell with `ours_genacc`, `ours_em`, `delta` (GenAcc points) and `flag` (|delta| > tolerance);
    `ours` is the long table of `s3core.report.collect` (its `source` column is the QA sets' data source)."""
    paper = paper_cells()
    blocks = generator_blocks(generators)
    size = model_size(generators[reasoner]["model"])
    paper["method"] = [our_method(row, size) for _, row in paper.iterrows()]
    paper["generator"] = paper["block"].map(blocks)
    means = ours.groupby(["generator", "method", "corpus", "source"], as_index=False)[["genacc", "em"]].mean()
    sets = paper[paper.dataset != "avg"].groupby("table").dataset.nunique()
    values = [_ours(means, row, sets[row["table"]]) for _, row in paper.iterrows()]
    paper["ours_genacc"] = [v[0] for v in values]
    paper["ours_em"] = [v[1] for v in values]
    paper["delta"] = (paper["ours_genacc"] - paper["genacc"]).round(1)
    paper["flag"] = paper["delta"].abs() > tolerance
    return paper


def _ours(means: pd.DataFrame, row: pd.Series, sets: int) -> tuple[float, float]:
    """Our (GenAcc, EM) of a paper cell; the average only when all `sets` of the row's table ran; NaN when not run."""
    corpus = "wiki" if row["corpus"] == "none" else row["corpus"]
    ran = means[(means.generator == row["generator"]) & (means.method == row["method"]) & (means.corpus == corpus)]
    if row["dataset"] != "avg":
        ran = ran[ran.source == row["dataset"]]
    elif len(ran) < sets:
        return float("nan"), float("nan")
    return (ran["genacc"].mean(), ran["em"].mean()) if len(ran) else (float("nan"), float("nan"))


def _cell(row: pd.Series) -> str:
    paper = f"{row['genacc']:.1f}"
    if pd.isna(row["ours_genacc"]):
        return f"not run / {paper}"
    flag = " ⚠" if row["flag"] else ""
    return f"{row['ours_genacc']:.1f} / {paper} ({row['delta']:+.1f}){flag}"


def write_comparison(comparison: pd.DataFrame, out_md: Path, out_csv: Path, tolerance: float) -> None:
    """paper.md: each paper table block with "ours / paper (Δ)" GenAcc cells; paper.csv: every cell."""
    parts = ["# Ours beside the paper\n",
             f"Cells: GenAcc ours / the paper's (Δ), in %; ⚠ where |Δ| > {tolerance:g} points. The paper's numbers are "
             "the mean of three runs (arXiv 2505.14146 v1).\n"]
    for (table, block, corpus), group in comparison.groupby(["table", "block", "corpus"], sort=False):
        grid = group.assign(cell=group.apply(_cell, axis=1)).pivot_table(
            index="row", columns="dataset", values="cell", aggfunc="first", sort=False)
        grid = grid[list(dict.fromkeys(group["dataset"]))]
        where = "" if corpus in ("wiki", "none") and table == "1" else f", corpus {corpus}"
        parts.append(f"\n## {TABLE_TITLES[table]}, {block}{where}\n\n{grid.to_markdown()}\n")
    with atomic_open(out_md) as handle:
        handle.write("".join(parts))
    with atomic_open(out_csv) as handle:
        comparison.to_csv(handle, index=False)

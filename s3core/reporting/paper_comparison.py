"""Our results beside the paper's (its Tables 1, 2, 3, 5, 6 and Figure 10, `resources/paper_results.csv`): every
cell the paper prints, with ours, the difference and a flag where it exceeds the tolerance; a paper row this run did
not produce is "not run", never dropped. Tables 3, 5, 6 and Figure 10 vary the s3 searcher (its search budget, its
training reward, its ablations, its training length): our s3 run fills the row of the variant it is."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pandas as pd

from s3core.config.sections import GeneratorConfig, JobConfig, SearchConfig
from s3core.data.atomic import atomic_open
from s3core.reporting.latex import write_latex
from s3core.search.reward import METRICS

#: The paper's row labels and the method of ours that reproduces each (IRCoT and Search-o1: the row whose searcher
#: size is the reasoner's).
METHOD_OF_ROW = {
    "Direct Inference": "direct",
    "w/o retrieval": "direct",
    "CoT": "cot",
    "RAGBM25": "rag_bm25",
    "RAGE5": "rag_dense",
    "DeepRetrievalBM25": "deepretrieval",
    "Search-R1-7B (Ret)": "search_r1",
    "s3": "s3",
    "IRCoT": "ircot",
    "IRCoT (self)": "ircot",
    "Search-o1": "search_o1",
}
REASONED = {"ircot", "search_o1"}
#: The paper's generator blocks and the model each names (matched without case in our generator's name or model id).
BLOCK_MODELS = {
    "Qwen2.5-7B-Instruct": "qwen2.5-7b-instruct",
    "Qwen2.5-14B-Instruct": "qwen2.5-14b-instruct",
    "Claude-3-Haiku": "claude-3-haiku",
}
TABLE_TITLES = {
    "1": "Table 1: general QA",
    "2": "Table 2: medical QA (MIRAGE)",
    "3": "Table 3: the search budget (#retrieved-#selected-#turns)",
    "5": "Table 5: the training reward",
    "6": "Table 6: ablations",
    "F10": "Figure 10: longer training",
}
#: The tables whose rows are variants of the s3 searcher.
VARIANT_TABLES = {"3", "5", "6", "F10"}
#: Table 5's averages: general QA over Table 1's sets (wiki-18), medical QA over Table 2's (MedCorp).
AVERAGED_SETS = {("5", "wiki"): ("1", "wiki"), ("5", "medcorp"): ("2", "medcorp")}
SUITE_LABELS = {"wiki": "General QA", "medcorp": "Medical QA"}


def paper_cells() -> pd.DataFrame:
    """The paper's cells: table, block, corpus, row, searcher, train, dataset, genacc, em."""
    with files("s3core.resources").joinpath("paper_results.csv").open() as handle:
        return pd.read_csv(handle, comment="#", dtype={"table": str})


def model_size(model: str) -> str | None:
    """`7B` of `Qwen/Qwen2.5-7B-Instruct`."""
    found = re.search(r"(\d+(?:\.\d+)?)B\b", model, re.IGNORECASE)
    return f"{found[1]}B" if found else None


def generator_blocks(generators: dict[str, GeneratorConfig], stands_for: dict[str, str]) -> dict[str, str]:
    """Our generator per paper block it stands for: the one `stands_for` (config `report.stands_for`) maps to it,
    else the one whose name or model id names the paper's model."""
    named = {
        block: name
        for block, needle in BLOCK_MODELS.items()
        for name, g in generators.items()
        if needle in name.lower() or needle in g.model.lower()
    }
    return named | {block: name for name, block in stands_for.items() if name in generators}


#: Table 5's row of each training reward (`reward.metric`) and Table 6's row of each ablation.
ABLATIONS = {
    (True, True): "Full Implementation",
    (False, True): "w/o Selection",
    (True, False): "w/o Begin with Search",
    (False, False): "w/o Both",
}


def s3_variant_rows(search: SearchConfig, metric: str, steps: int) -> set[str]:
    """The rows of Tables 3, 5, 6 and Figure 10 that an s3 run is. The full s3 (selection and the initial
    search on) fills Table 5's row of its reward `metric`; trained with GenAcc, also its budget's row of Table 3
    (`search.topk`-`max_selected`-`max_turns`), Table 6's Full Implementation and Figure 10's row of `steps` steps.
    An ablation (`search.selection`, `search.begin_with_search`) trained with GenAcc fills its row of Table 6."""
    budget = f"{search.topk}-{search.max_selected}-{search.max_turns}"
    ablation = ABLATIONS[(search.selection, search.begin_with_search)]
    full = ablation == "Full Implementation"
    rows = {f"reward {METRICS[metric].paper_row}"} if full else set()
    if metric == "genacc":
        rows |= {f"{budget} {ablation}"} | ({budget, f"{budget} step {steps}"} if full else set())
    return rows


def variant_rows(runs: dict[str, JobConfig]) -> dict[str, str]:
    """Row of Tables 3, 5, 6 or Figure 10 -> the s3 run (label without its seed) that fills it; `runs`: label ->
    its `search`, `reward` and `train` sections, the base `s3` first (it wins a row two runs would fill)."""
    rows: dict[str, str] = {}
    for label, run in runs.items():
        for row in s3_variant_rows(run.search, run.reward.metric, run.train.steps):
            rows.setdefault(row, label)
    return rows


def our_method(row: pd.Series, reasoner_size: str | None, s3_rows: dict[str, str]) -> str | None:
    """The method of ours (an s3 run's label for the variant tables) a paper row stands for (None: not one we
    run)."""
    if row["table"] in VARIANT_TABLES:
        return s3_rows.get(row["row"])
    method = METHOD_OF_ROW.get(row["row"])
    if method in REASONED and row["searcher"] != reasoner_size:
        return None
    return method


def compare(
    ours: pd.DataFrame,
    generators: dict[str, GeneratorConfig],
    reasoner: str,
    tolerance: float,
    s3_rows: dict[str, str] | None = None,
    stands_for: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Every paper cell with `ours_genacc`, `ours_em` (means over seeds), `ours_sd` (GenAcc's standard deviation
    over seeds), `delta` (GenAcc points) and `flag` (|delta| beyond both the tolerance and the seed spread);
    `ours` is the long table of `s3core.reporting.tables.collect` (its `source` column is the QA sets' data source,
    `run` a method's seed); `s3_rows`: variant row -> the s3 run filling it (`variant_rows`); `stands_for`: generator ->
    paper block."""
    paper = paper_cells()
    blocks = generator_blocks(generators, stands_for or {})
    size = model_size(generators[reasoner].model)
    paper["method"] = [our_method(row, size, s3_rows or {}) for _, row in paper.iterrows()]
    paper["generator"] = paper["block"].map(blocks)
    means = ours.groupby(["generator", "method", "corpus", "source", "run"], as_index=False)[["genacc", "em"]].mean()
    sets = paper[paper.dataset != "avg"].groupby(["table", "corpus"]).dataset.unique()
    values = [
        _ours(means, row, list(sets[AVERAGED_SETS.get((row["table"], row["corpus"]), (row["table"], row["corpus"]))]))
        if row["dataset"] == "avg"
        else _ours(means, row, [row["dataset"]])
        for _, row in paper.iterrows()
    ]
    paper["ours_genacc"], paper["ours_em"], paper["ours_sd"] = zip(*values)
    paper["delta"] = (paper["ours_genacc"] - paper["genacc"]).round(1)
    paper["flag"] = paper["delta"].abs() > paper["ours_sd"].clip(lower=tolerance)
    return paper


def _ours(means: pd.DataFrame, row: pd.Series, sets: list[str]) -> tuple[float, float, float]:
    """Our (GenAcc, EM, GenAcc's sd over seeds) of a paper cell: per seed the mean over `sets` (one set, or every
    set of an average), then the mean over the seeds that ran all of them; NaN when none did."""
    corpus = "wiki" if row["corpus"] == "none" else row["corpus"]
    ran = means[
        (means.generator == row["generator"])
        & (means.method == row["method"])
        & (means.corpus == corpus)
        & means.source.isin(sets)
    ]
    complete = ran.groupby("run").filter(lambda run: run["source"].nunique() == len(sets))
    if complete.empty:
        return float("nan"), float("nan"), float("nan")
    per_seed = complete.groupby("run")[["genacc", "em"]].mean()
    spread = per_seed["genacc"].std(ddof=1) if len(per_seed) > 1 else 0.0
    return per_seed["genacc"].mean(), per_seed["em"].mean(), spread


def _cell(row: pd.Series) -> str:
    paper = f"{row['genacc']:.1f}" + (" †" if isinstance(row["note"], str) and row["note"] else "")
    if pd.isna(row["ours_genacc"]):
        return f"not run / {paper}"
    flag = " ⚠" if row["flag"] else ""
    spread = f" ± {row['ours_sd']:.1f}" if row["ours_sd"] > 0 else ""
    return f"{row['ours_genacc']:.1f}{spread} / {paper} ({row['delta']:+.1f}){flag}"


def write_no_comparison(out_md: Path, out_csv: Path, out_tex: Path) -> None:
    """The paper files of a run on your own data (assets.kind custom): the paper has no numbers for it."""
    with atomic_open(out_md) as handle:
        handle.write("# Ours beside the paper\n\nNone: this run answers your own questions (assets.kind custom).\n")
    with atomic_open(out_csv) as handle:
        handle.write("table,block,row,column\n")
    write_latex([], out_tex)


def write_comparison(comparison: pd.DataFrame, out_md: Path, out_csv: Path, out_tex: Path, tolerance: float) -> None:
    """paper.md and paper.tex: each paper table block with "ours / paper (Δ)" GenAcc cells; paper.csv: every
    cell."""
    parts = [
        "# Ours beside the paper\n",
        f"Cells: GenAcc ours (± sd over seeds) / the paper's (Δ), in %; ⚠ where |Δ| > {tolerance:g} points and "
        "beyond our seeds' sd; † where the paper "
        "disagrees with itself (listed under the table). The paper's numbers are the mean of three runs "
        "(arXiv 2505.14146 v1).\n",
    ]
    floats = []
    keys = (
        comparison["table"]
        + "|"
        + comparison["block"]
        + "|"
        + comparison["corpus"].where(comparison["table"] != "5", "")
    )
    for _, group in comparison.groupby(keys, sort=False):
        table, block, corpus = group.iloc[0][["table", "block", "corpus"]]
        cells = group.assign(cell=group.apply(_cell, axis=1))
        if table == "5":  # the paper's layout: a row per suite, a column per training reward
            cells = cells.assign(
                suite=cells["corpus"].map(SUITE_LABELS), reward=cells["row"].str.removeprefix("reward ")
            )
            grid = cells.pivot_table(index="suite", columns="reward", values="cell", aggfunc="first", sort=False)
        else:
            grid = cells.pivot_table(index="row", columns="dataset", values="cell", aggfunc="first", sort=False)
            grid = grid[list(dict.fromkeys(group["dataset"]))]
        where = "" if table == "5" or (corpus in ("wiki", "none") and table != "2") else f", corpus {corpus}"
        notes = [
            f"† {r['row']}, {r['dataset']}: {r['note']}"
            for _, r in group.iterrows()
            if isinstance(r["note"], str) and r["note"]
        ]
        heading = f"{TABLE_TITLES[table]}, {block}{where}"
        parts.append(f"\n## {heading}\n\n{grid.to_markdown()}\n" + "".join(f"\n- {n}" for n in notes) + "\n")
        floats.append((". ".join([f"{heading}: GenAcc ours / the paper's (Δ)", *notes]), grid))
    with atomic_open(out_md) as handle:
        handle.write("".join(parts))
    with atomic_open(out_csv) as handle:
        comparison.to_csv(handle, index=False)
    write_latex(floats, out_tex)

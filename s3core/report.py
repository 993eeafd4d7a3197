"""The paper-style results table: one row per method, one column per dataset plus the average."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pandas as pd

from s3core.evaluate import JUDGE_ONLY_SOURCES
from s3core.jsonl import atomic_open, read_jsonl
from s3core.latex import write_latex

#: Row order of the paper's tables (methods not run are skipped).
PAPER_ORDER = ["direct", "cot", "rag_bm25", "rag_dense", "ircot", "search_o1", "search_r1", "deepretrieval", "s3_step0",
               "s3", "s3_released"]
LABELS = {
    "direct": "Direct", "cot": "CoT", "rag_bm25": "RAG-BM25", "rag_dense": "RAG-dense", "ircot": "IRCoT",
    "search_o1": "Search-o1", "search_r1": "Search-R1", "deepretrieval": "DeepRetrieval",
    "s3_step0": "s3 (step 0)", "s3": "s3", "s3_released": "s3 (released)",
}
METRICS = ["genacc", "em", "f1"]
#: Heading suffix of each suite's table (general QA first, then MIRAGE's medical sets, judged only) and of each
#: corpus (the suite's Wikipedia first, then MedCorp).
SUITE_TITLES = {"general": "", "medical": ", medical QA (MIRAGE; GenAcc = the judge alone)"}
CORPUS_TITLES = {"wiki": "", "medcorp": ", searched in MedCorp (Wikipedia + PubMed + Textbooks)"}


def collect(answer_files: list[Path], corpora: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (generator, suite, corpus, method, dataset, source): question count and mean GenAcc, EM, F1 in percent;
    the suite is `medical` for MIRAGE's sets, else `general`; the corpus is the set's in `corpora` (default wiki);
    the source is the questions' data source (`nq`, `medqa`, ...)."""
    frames = []
    for path in answer_files:
        rows = read_jsonl(path)
        if rows:
            frame = pd.DataFrame(rows)[["generator", "method", "data_source", *METRICS]]
            frame["source"] = frame.pop("data_source")
            frame["suite"] = frame["source"].isin(JUDGE_ONLY_SOURCES).map({True: "medical", False: "general"})
            frame["dataset"] = dataset = Path(path).stem
            frame["corpus"] = (corpora or {}).get(dataset, "wiki")
            frames.append(frame)
    data = pd.concat(frames)
    keys = ["generator", "suite", "corpus", "method", "dataset", "source"]
    table = data.groupby(keys)[METRICS].mean().mul(100).round(1)
    table["n"] = data.groupby(keys).size()
    return table.reset_index()


def _pivot(frame: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """Cells "GenAcc (EM) / F1" per dataset, plus the unweighted average over datasets."""
    cells = {}
    for method, group in frame.groupby("method"):
        by_dataset = group.set_index("dataset")
        row = {d: by_dataset.loc[d, METRICS].tolist() for d in datasets if d in by_dataset.index}
        row["Avg"] = by_dataset[METRICS].mean().round(1).tolist()
        cells[method] = {k: f"{g:.1f} ({e:.1f}) / {f:.1f}" for k, (g, e, f) in row.items()}
    order = [m for m in PAPER_ORDER if m in cells] + sorted(set(cells) - set(PAPER_ORDER))
    table = pd.DataFrame.from_dict({LABELS.get(m, m): cells[m] for m in order}, orient="index")
    table.index.name = "Method"
    return table[[d for d in datasets if d in table.columns] + ["Avg"]]


def write_tables(answer_files: list[Path], out_md: Path, out_csv: Path, out_tex: Path,
                 corpora: dict[str, str] | None = None) -> pd.DataFrame:
    """main.md and main.tex: a table per generator, suite and corpus (`corpora`: set -> corpus); main.csv: the long
    form with n per cell."""
    frame = collect(answer_files, corpora)
    datasets = list(dict.fromkeys(frame["dataset"]))
    parts = ["# Results\n", "Cells: GenAcc (EM) / F1, in %. Avg = unweighted mean over datasets.\n"]
    floats = []
    for generator, by_generator in frame.groupby("generator", sort=False):
        for (suite, title), (corpus, where) in product(SUITE_TITLES.items(), CORPUS_TITLES.items()):
            group = by_generator[(by_generator.suite == suite) & (by_generator.corpus == corpus)]
            sets = [d for d in datasets if d in set(group.dataset)]
            if sets:
                counts = ", ".join(f"{d} n={int(group[group.dataset == d].n.max())}" for d in sets)
                grid, heading = _pivot(group, sets), f"Generator: {generator}{title}{where}"
                parts.append(f"\n## {heading}\n\n{counts}\n\n{grid.to_markdown()}\n")
                floats.append((f"{heading}. GenAcc (EM) / F1 in %; {counts}.", grid))
    with atomic_open(out_md) as handle:
        handle.write("".join(parts))
    with atomic_open(out_csv) as handle:
        frame.to_csv(handle, index=False)
    write_latex(floats, out_tex)
    return frame

"""The paper-style results table: one row per method, one column per dataset plus the average."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pandas as pd

from s3core.data.atomic import atomic_open
from s3core.data.jsonl import read_jsonl
from s3core.data.traits import traits
from s3core.errors import DataError
from s3core.methods.registry import labels
from s3core.plan.runs import seedless
from s3core.reporting.latex import write_latex

METRICS = ["genacc", "em", "f1"]
#: Retrieval scores of the documents handed to the generator, where the questions name gold documents
RETRIEVAL = ["recall@3", "ndcg@3"]


def label(method: str) -> str:
    """A method's row label; an ablation of s3 is `s3 [<ablation>]`."""
    base, _, ablation = method.partition(".")
    names = labels()
    return f"{names.get(base, base)} [{ablation}]" if ablation else names.get(method, method)


def row_order() -> list[str]:
    """Row order of the tables: the registry's (the paper's rows, then plugins'); methods not run are skipped."""
    return list(labels())


#: Heading suffix of each suite's table (general QA first, then MIRAGE's medical sets, judged only) and of each
#: corpus (the suite's Wikipedia first, then MedCorp).
SUITE_TITLES = {"general": "", "medical": ", medical QA (MIRAGE; GenAcc = the judge alone)"}
CORPUS_TITLES = {"wiki": "", "medcorp": ", searched in MedCorp (Wikipedia + PubMed + Textbooks)"}


def collect(answer_files: list[Path], corpora: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (generator, suite, corpus, method, dataset, source, run): question count and mean GenAcc, EM, F1 in
    percent; the suite is `medical` for MIRAGE's sets, else `general`; the corpus is the set's in `corpora` (default
    wiki); the source is the questions' data source (`nq`, `medqa`, ...); the run is the method label of the answers
    (`s3.seed7`), the method that label without its seed (`s3`), so a method's seeds are its runs."""
    frames = []
    for path in answer_files:
        rows = read_jsonl(path)
        if rows:
            frame = pd.DataFrame(rows)
            frame = frame[["generator", "method", "data_source", *METRICS, *(m for m in RETRIEVAL if m in frame)]]
            frame["run"] = frame["method"]
            frame["method"] = frame["method"].map(seedless)
            frame["source"] = frame.pop("data_source")
            frame["suite"] = frame["source"].map(lambda source: "medical" if traits(source).judge_only else "general")
            frame["dataset"] = dataset = Path(path).stem
            frame["corpus"] = (corpora or {}).get(dataset, "wiki")
            frames.append(frame)
    if not frames:
        raise DataError(
            f"none of the {len(answer_files)} answer files holds an answer (the first: "
            f"{answer_files[0] if answer_files else 'none given'}); run the evaluate steps again"
        )
    data = pd.concat(frames)
    keys = ["generator", "suite", "corpus", "method", "dataset", "source", "run"]
    table = data.groupby(keys)[[m for m in (*METRICS, *RETRIEVAL) if m in data]].mean().mul(100).round(1)
    table["n"] = data.groupby(keys).size()
    return table.reset_index()


def over_seeds(values: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The mean of each metric over a method's runs (its seeds) per `keys`, its standard deviation (`<metric>_sd`,
    0 with one seed) and the number of seeds; `values` has a `run` column and one value per run and key."""
    grouped = values.groupby(keys, sort=False)
    means = grouped[METRICS].mean()
    spread = grouped[METRICS].std(ddof=1).fillna(0.0).add_suffix("_sd")
    return pd.concat([means, spread, grouped["run"].nunique().rename("seeds")], axis=1).round(1).reset_index()


def _row_order(method: str) -> tuple[int, str]:
    """The paper's row order; s3's ablations right after s3, methods it lacks last."""
    base = method.split(".")[0]
    order = row_order()
    return (order.index(base) if base in order else len(order), method)


def _cell(row: pd.Series) -> str:
    """ "GenAcc (EM) / F1", GenAcc with "± sd" over seeds when the method ran with several."""
    spread = f" ± {row['genacc_sd']:.1f}" if row["seeds"] > 1 else ""
    return f"{row['genacc']:.1f}{spread} ({row['em']:.1f}) / {row['f1']:.1f}"


def _pivot(frame: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """Cells "GenAcc (EM) / F1" per dataset (mean ± sd over seeds), plus the unweighted average over datasets
    (averaged per seed first)."""
    per_set = over_seeds(frame, ["method", "dataset"])
    averages = over_seeds(frame.groupby(["method", "run"], as_index=False)[METRICS].mean(), ["method"])
    cells = {}
    for method, group in per_set.groupby("method"):
        row = {r["dataset"]: _cell(r) for _, r in group.iterrows()}
        cells[method] = {**row, "Avg": _cell(averages[averages.method == method].iloc[0])}
    table = pd.DataFrame.from_dict({label(m): cells[m] for m in sorted(cells, key=_row_order)}, orient="index")
    table.index.name = "Method"
    return table[[d for d in datasets if d in table.columns] + ["Avg"]].fillna("not run")


def _settings_block(settings: list[str]) -> str:
    lines = "\n".join(settings)
    return f"\nSettings these numbers share (compare them only with numbers of the same settings):\n\n{lines}\n"


def _retrieval_table(frame: pd.DataFrame) -> str:
    """Recall@3 / nDCG@3 (%) of the documents each method hands the generator, per set with gold documents (the
    documents do not depend on the generator: the first generator's rows)."""
    scored = frame.dropna(subset=["recall@3"])
    scored = scored[scored.generator == scored.generator.iloc[0]]
    grid = scored.groupby(["method", "dataset"])[RETRIEVAL].mean().round(1)
    cells = {
        label(method): {d: f"{r['recall@3']:.1f} / {r['ndcg@3']:.1f}" for (m, d), r in grid.iterrows() if m == method}
        for method in sorted(set(scored.method), key=_row_order)
    }
    table = pd.DataFrame.from_dict(cells, orient="index").fillna("not run")
    table.index.name = "Method"
    heading = "Retrieval: recall@3 / nDCG@3 of the documents handed to the generator (gold documents given)"
    return f"\n## {heading}\n\n{table.to_markdown()}\n"


def write_tables(
    answer_files: list[Path],
    out_md: Path,
    out_csv: Path,
    out_tex: Path,
    corpora: dict[str, str] | None = None,
    settings: list[str] | None = None,
) -> pd.DataFrame:
    """main.md and main.tex: a table per generator, suite and corpus (`corpora`: set -> corpus), under the
    `settings` the numbers share; a retrieval table where the questions name gold documents; main.csv: the long
    form with n per cell."""
    frame = collect(answer_files, corpora)
    datasets = list(dict.fromkeys(frame["dataset"]))
    parts = [
        "# Results\n",
        *(
            [f"\nSettings these numbers share (compare only with numbers of the same):\n\n{chr(10).join(settings)}\n"]
            if settings
            else []
        ),
        "\nCells: GenAcc (EM) / F1, in %; with several seeds, GenAcc is the mean ± the standard "
        "deviation over seeds. Avg = unweighted mean over datasets.\n",
    ]
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
    if "recall@3" in frame:
        parts.append(_retrieval_table(frame))
    with atomic_open(out_md) as handle:
        handle.write("".join(parts))
    with atomic_open(out_csv) as handle:
        frame.to_csv(handle, index=False)
    write_latex(floats, out_tex)
    return frame

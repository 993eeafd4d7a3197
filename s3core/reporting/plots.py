"""The report's figures, as PNGs: the training curve (reward, GenAcc with the naive-RAG baseline, and the GBR
distribution, per PPO step) and GenAcc per dataset of every method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from s3core.data.atomic import atomic_open
from s3core.reporting.tables import label, row_order


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, out: Path) -> None:
    figure.tight_layout()
    with atomic_open(out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    _pyplot().close(figure)


def plot_training_curve(rows: list[dict[str, Any]], out: Path) -> None:
    """Panels sharing the step axis: reward (and GBR), GenAcc of s3 and of naive RAG, and, when the steps logged
    it, the GBR distribution (the share of questions s3 answered worse than, as well as, or better than RAG)."""
    plt = _pyplot()

    steps = [r["step"] for r in rows]
    shares = bool(rows) and "gbr_zero" in rows[0]
    figure, panels = plt.subplots(3 if shares else 2, 1, sharex=True, figsize=(6, 7.5 if shares else 5))
    top, middle = panels[0], panels[1]
    top.plot(steps, [r["reward"] for r in rows], marker="o", label="reward")
    if rows and "gbr" in rows[0]:
        top.plot(steps, [r["gbr"] for r in rows], marker=".", linestyle="--", label="GBR")
    top.set_ylabel("mean per question")
    top.legend()
    for key, name in (("genacc", "GenAcc (s3 documents)"), ("rag_genacc", "GenAcc (naive RAG)")):
        if rows and key in rows[0]:
            middle.plot(steps, [r[key] for r in rows], marker="o", label=name)
    middle.set_ylabel("GenAcc")
    middle.legend()
    if shares:
        bottom, base = panels[2], [0.0] * len(rows)
        for key, label, colour in (
            ("gbr_below", "GBR < 0", "tab:red"),
            ("gbr_zero", "GBR = 0", "tab:gray"),
            ("gbr_above", "GBR > 0", "tab:green"),
        ):
            heights = [r[key] for r in rows]
            bottom.bar(steps, heights, bottom=base, color=colour, label=label)
            base = [b + h for b, h in zip(base, heights)]
        bottom.set_ylabel("share of questions")
        bottom.legend(fontsize="small")
    panels[-1].set_xlabel("PPO step")
    _save(figure, out)


def plot_genacc_bars(results: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One bar chart per generator, suite and corpus of `results` (the long table of
    `s3core.reporting.tables.collect`): a group of bars per dataset, a bar per method, in the paper's row order.
    Returns the PNGs written."""
    written = []
    for (generator, suite, corpus), group in results.groupby(["generator", "suite", "corpus"], sort=False):
        grid = group.pivot_table(index="dataset", columns="method", values="genacc", sort=False)
        order = row_order()
        grid = grid[[m for m in order if m in grid.columns] + sorted(set(grid.columns) - set(order))]
        figure, axes = _pyplot().subplots(figsize=(max(6.0, 1.2 * len(grid) * max(1, len(grid.columns)) / 4), 4))
        grid.rename(columns=label).plot.bar(ax=axes, rot=0, width=0.85)
        axes.set_ylabel("GenAcc (%)")
        axes.set_xlabel("")
        axes.set_title(f"{generator}, {suite} QA, corpus {corpus}")
        axes.legend(fontsize="small", ncols=2)
        out = out_dir / f"genacc_{generator}_{suite}_{corpus}.png"
        _save(figure, out)
        written.append(out)
    return written

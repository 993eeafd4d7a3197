"""The run's report page, `results/<suite>/report/index.html`: one static page (no server, no scripts) with the
results tables, a GenAcc bar chart per generator, suite and corpus, the training curve, the training cost and ours
beside the paper's tables; every figure is a PNG beside the page."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import markdown
import pandas as pd

from s3core.data.atomic import atomic_open
from s3core.reporting.gpu_hours import write_gpu_hours
from s3core.reporting.plots import plot_genacc_bars

CURVE = "training_curve.png"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
figure { display: inline-block; margin: 1em 1em 1em 0; }
img { max-width: 100%; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
"""


def _tables(markdown_file: Path) -> str:
    """A tables file of the run (`tables/*.md`) as HTML, its headings one level down."""
    text = re.sub(r"^#", "##", markdown_file.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return markdown.markdown(text, extensions=["tables"])


def _figure(name: str, caption: str) -> str:
    return (
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _gpu_hours(gpu_hours: dict[str, Any], out_dir: Path) -> str:
    markdown_file = out_dir / "gpu_hours.md"
    write_gpu_hours(gpu_hours["preview"], gpu_hours["jobs"], markdown_file, out_dir / "gpu_hours.csv")
    return _tables(markdown_file)


def write_report(
    out_dir: Path,
    results_md: Path,
    results_csv: Path,
    paper_md: Path,
    cost_md: Path,
    curve: Path | None,
    title: str,
    note: str,
    gpu_hours: dict[str, Any] | None = None,
) -> Path:
    """Write index.html and its PNGs into `out_dir` from the run's tables (`tables/main.{md,csv}`, `paper.md`,
    `training_cost.md`) and training curve; `note` (config `report.note`) is shown on top; `gpu_hours` (the cost
    preview and the jobs' time records) adds the GPU-hours used beside the preview (gpu_hours.{md,csv}). Returns
    the page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bars = plot_genacc_bars(pd.read_csv(results_csv), out_dir)
    figures = [_figure(path.name, path.stem.removeprefix("genacc_").replace("_", ", ")) for path in bars]
    training = ""
    if curve:
        shutil.copyfile(curve, out_dir / CURVE)
        training = "<h2>Training</h2>" + _figure(
            CURVE, "s3 training: reward, GBR, GenAcc and the GBR distribution per PPO step"
        )
    parts = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f'<link rel="icon" href="data:,"><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>',
        f'<p class="note">{html.escape(note)}</p>' if note else "",
        _tables(results_md),
        "<h2>GenAcc per dataset</h2>",
        *figures,
        training,
        _tables(cost_md),
        _gpu_hours(gpu_hours, out_dir) if gpu_hours else "",
        _tables(paper_md),
        "</body></html>\n",
    ]
    page = out_dir / "index.html"
    with atomic_open(page) as handle:
        handle.write("".join(parts))
    return page

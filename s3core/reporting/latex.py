"""The run's tables as LaTeX (booktabs): one `table` float per Markdown table, cells and captions escaped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from s3core.data.atomic import atomic_open

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
#: The tables' markers: beyond the tolerance, and a cell the paper disagrees with itself about.
_MARKERS = {"⚠": r"\textsuperscript{!}", "†": r"\textsuperscript{\dag}", "Δ": r"$\Delta$"}


def escape(text: str) -> str:
    """`text` safe in LaTeX running text."""
    text = "".join(_SPECIAL.get(char, char) for char in text)
    for marker, macro in _MARKERS.items():
        text = text.replace(marker, macro)
    return text


def latex_table(grid: pd.DataFrame, caption: str) -> str:
    """One booktabs table float of `grid` (its index as the first column)."""
    shown = grid.rename(index=escape, columns=escape).map(lambda cell: escape(str(cell)))
    shown.index.name = escape(grid.index.name) if grid.index.name else None
    return shown.to_latex(escape=False, caption=escape(caption), position="htbp")


def write_latex(tables: list[tuple[str, pd.DataFrame]], out: Path) -> None:
    """A .tex file of (caption, table) pairs, for `\\input` in a document that loads booktabs."""
    with atomic_open(out) as handle:
        handle.write("% Needs \\usepackage{booktabs}\n" + "\n".join(latex_table(g, c) for c, g in tables))

"""Ours beside the paper's Tables 1 and 2: every paper cell present (ours or "not run"), the right row of ours in
each, differences flagged beyond the tolerance."""

from __future__ import annotations

import pandas as pd

from s3core import config
from s3core.paper_comparison import compare, paper_cells, write_comparison

GENERATORS = config.load("config/paper.yaml")["generators"]
SETS = ["nq", "triviaqa", "popqa", "hotpotqa", "2wikimultihopqa", "musique"]


def ours(rows):
    return pd.DataFrame([(g, m, c, s, v, v / 2) for g, m, c, s, v in rows],
                        columns=["generator", "method", "corpus", "source", "genacc", "em"])


def test_every_cell_of_the_papers_tables_1_and_2_is_there():
    paper = paper_cells()
    assert len(paper) == 345 and set(paper.table) == {"1", "2"}              # 33 rows x 7 + 19 rows x 6
    assert paper.query("table == '1' and block == 'Claude-3-Haiku' and row == 's3' and dataset == 'avg'").genacc.item() == 58.9
    assert paper.query("table == '2' and corpus == 'medcorp' and row == 's3' and dataset == 'avg'").genacc.item() == 76.6
    table = compare(ours([]), GENERATORS, "qwen2.5-7b-instruct", 2.0)
    assert len(table) == len(paper) and table.ours_genacc.isna().all()       # nothing run: every cell "not run"


def test_our_cells_meet_the_right_paper_rows_and_are_flagged_beyond_the_tolerance(tmp_path):
    claude, qwen7 = "claude-3-haiku", "qwen2.5-7b-instruct"
    rows = [(claude, "s3", "wiki", s, 70.5 if s == "nq" else 50.0) for s in SETS]
    rows += [(claude, "ircot", "wiki", "nq", 68.0), (qwen7, "direct", "wiki", "nq", 40.0),
             (claude, "s3", "medcorp", "medqa", 65.0), (claude, "direct", "wiki", "medqa", 61.0)]
    table = compare(ours(rows), GENERATORS, "qwen2.5-7b-instruct", 2.0).set_index(
        ["table", "block", "corpus", "row", "searcher", "dataset"])
    cell = table.loc[("1", "Claude-3-Haiku", "wiki", "s3", "7B", "nq")]
    assert (cell.ours_genacc, cell.delta, cell.flag) == (70.5, 0.0, False)
    average = table.loc[("1", "Claude-3-Haiku", "wiki", "s3", "7B", "avg")]
    assert average.ours_genacc == (70.5 + 5 * 50.0) / 6 and average.flag                # all six sets ran
    assert table.loc[("1", "Claude-3-Haiku", "wiki", "IRCoT", "7B", "nq")].ours_genacc == 68.0   # the 7B reasoner's
    assert pd.isna(table.loc[("1", "Claude-3-Haiku", "wiki", "IRCoT", "14B", "nq")].ours_genacc)
    assert table.loc[("1", "Qwen2.5-7B-Instruct", "wiki", "Direct Inference", "-", "nq")].delta == 2.7
    assert table.loc[("2", "Claude-3-Haiku", "medcorp", "s3", "7B", "medqa")].ours_genacc == 65.0
    assert table.loc[("2", "Claude-3-Haiku", "none", "w/o retrieval", "-", "medqa")].ours_genacc == 61.0
    assert pd.isna(table.loc[("1", "Qwen2.5-14B-Instruct", "wiki", "s3", "7B", "nq")].ours_genacc)   # not run
    md, csv = tmp_path / "paper.md", tmp_path / "paper.csv"
    write_comparison(table.reset_index(), md, csv, 2.0)
    text = md.read_text()
    assert "## Table 1: general QA, Claude-3-Haiku\n" in text and "## Table 2: medical QA (MIRAGE), Claude-3-Haiku, corpus medcorp" in text
    assert "70.5 / 70.5 (+0.0)" in text and "not run / 67.2" in text and "⚠" in text
    assert len(pd.read_csv(csv)) == 345

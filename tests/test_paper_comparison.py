"""Ours beside the paper's Tables 1-3, 5, 6 and Figure 10: every paper cell present (ours or "not run"), the right
row of ours in each (for the s3 variants: the budget, reward and length it ran), differences flagged beyond the
tolerance, the paper's own inconsistencies noted."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from s3core.config import schema as config
from s3core.config.sections import GeneratorConfig, JobConfig, SearchConfig, job_config, parse, section, to_dict
from s3core.reporting.paper_comparison import compare, paper_cells, s3_variant_rows, variant_rows, write_comparison

GENERATORS: dict[str, GeneratorConfig] = section("generators", config.load("config/paper.yaml")["generators"])
SETS = ["nq", "triviaqa", "popqa", "hotpotqa", "2wikimultihopqa", "musique"]
MEDICAL = ["medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu"]
BUDGET_833: SearchConfig = parse(
    "search", {"topk": 8, "max_selected": 3, "max_turns": 3, "selection": True, "begin_with_search": True}
)


def ours(rows):
    """`s3core.reporting.tables.collect`'s long table: one run (seed) per method unless a row names its run."""
    return pd.DataFrame(
        [(g, m, c, s, v, v / 2, run[0] if run else m) for g, m, c, s, v, *run in rows],
        columns=["generator", "method", "corpus", "source", "genacc", "em", "run"],
    )


def s3_is(search: SearchConfig, metric="genacc", steps=20):
    """The variant rows of an s3 run alone."""
    return dict.fromkeys(s3_variant_rows(search, metric, steps), "s3")


def test_every_cell_of_the_papers_tables_is_there_with_its_notes():
    paper = paper_cells()
    counts = paper.groupby("table").size().to_dict()
    # rows x columns: T1 33 x 7, T2 19 x 6, T3 5 x 7, T5 2 suites x 4 rewards, T6 12 x 6 (no average), F10 2 x 6
    assert counts == {"1": 231, "2": 114, "3": 35, "5": 8, "6": 72, "F10": 12}
    assert list(dict.fromkeys(paper.table)) == ["1", "2", "3", "5", "6", "F10"]  # the paper's order
    assert list(dict.fromkeys(paper.query("table == '3'").row)) == ["8-3-3", "5-3-3", "5-3-4", "3-3-4", "3-3-3"]
    cell = paper.set_index(["table", "row", "dataset"])
    assert cell.loc[("6", "8-3-3 Full Implementation", "2wikimultihopqa")].genacc == 55.1
    assert cell.loc[("3", "8-3-3", "2wikimultihopqa")].genacc == 52.4
    assert "55.1 in Table 6" in cell.loc[("3", "8-3-3", "2wikimultihopqa")].note
    assert cell.loc[("F10", "5-3-4 step 300", "2wikimultihopqa")].genacc == 53.5
    assert paper.query("table == '5' and corpus == 'medcorp' and row == 'reward EM'").genacc.item() == 70.3
    assert paper.note.notna().sum() == 9  # the inconsistencies of the paper, as data
    assert (
        paper.query("table == '1' and block == 'Claude-3-Haiku' and row == 's3' and dataset == 'avg'").genacc.item()
        == 58.9
    )
    assert (
        paper.query("table == '2' and corpus == 'medcorp' and row == 's3' and dataset == 'avg'").genacc.item() == 76.6
    )
    table = compare(ours([]), GENERATORS, "qwen2.5-7b-instruct", 2.0, s3_is(BUDGET_833, "genacc", 20))
    assert len(table) == len(paper) and table.ours_genacc.isna().all()  # nothing run: every cell "not run"


def test_our_cells_meet_the_right_paper_rows_and_are_flagged_beyond_the_tolerance(tmp_path):
    claude, qwen7 = "claude-3-haiku", "qwen2.5-7b-instruct"
    rows = [(claude, "s3", "wiki", s, 70.5 if s == "nq" else 50.0) for s in SETS]
    rows += [
        (claude, "ircot", "wiki", "nq", 68.0),
        (qwen7, "direct", "wiki", "nq", 40.0),
        (claude, "s3", "medcorp", "medqa", 65.0),
        (claude, "direct", "wiki", "medqa", 61.0),
    ]
    table = compare(ours(rows), GENERATORS, "qwen2.5-7b-instruct", 2.0).set_index(
        ["table", "block", "corpus", "row", "searcher", "dataset"]
    )
    cell = table.loc[("1", "Claude-3-Haiku", "wiki", "s3", "7B", "nq")]
    assert (cell.ours_genacc, cell.delta, cell.flag) == (70.5, 0.0, False)
    average = table.loc[("1", "Claude-3-Haiku", "wiki", "s3", "7B", "avg")]
    assert average.ours_genacc == (70.5 + 5 * 50.0) / 6 and average.flag  # all six sets ran
    assert table.loc[("1", "Claude-3-Haiku", "wiki", "IRCoT", "7B", "nq")].ours_genacc == 68.0  # the 7B reasoner's
    assert pd.isna(table.loc[("1", "Claude-3-Haiku", "wiki", "IRCoT", "14B", "nq")].ours_genacc)
    assert table.loc[("1", "Qwen2.5-7B-Instruct", "wiki", "Direct Inference", "-", "nq")].delta == 2.7
    assert table.loc[("2", "Claude-3-Haiku", "medcorp", "s3", "7B", "medqa")].ours_genacc == 65.0
    assert table.loc[("2", "Claude-3-Haiku", "none", "w/o retrieval", "-", "medqa")].ours_genacc == 61.0
    assert pd.isna(table.loc[("1", "Qwen2.5-14B-Instruct", "wiki", "s3", "7B", "nq")].ours_genacc)  # not run
    md, csv = tmp_path / "paper.md", tmp_path / "paper.csv"
    write_comparison(table.reset_index(), md, csv, tmp_path / "paper.tex", 2.0)
    text = md.read_text()
    assert (
        "## Table 1: general QA, Claude-3-Haiku\n" in text
        and "## Table 2: medical QA (MIRAGE), Claude-3-Haiku, corpus medcorp" in text
    )
    assert "70.5 / 70.5 (+0.0)" in text and "not run / 67.2" in text and "⚠" in text
    assert len(pd.read_csv(csv)) == 472


def test_our_s3_run_fills_the_variant_rows_it_is():
    claude = "claude-3-haiku"
    rows = [(claude, "s3", "wiki", s, 60.0) for s in SETS] + [(claude, "s3", "medcorp", s, 70.0) for s in MEDICAL]
    rows += [(claude, "s3", "wiki", s, 10.0) for s in MEDICAL]  # medical sets on wiki-18: not in T5's general
    budget_534 = replace(BUDGET_833, topk=5, max_turns=4)
    assert s3_variant_rows(budget_534, "genacc", 20) == {
        "5-3-4",
        "reward GenAcc",
        "5-3-4 Full Implementation",
        "5-3-4 step 20",
    }
    table = compare(ours(rows), GENERATORS, "qwen2.5-7b-instruct", 2.0, s3_is(budget_534, "genacc", 20))
    filled = table[table.ours_genacc.notna() & table.table.isin(["3", "5", "6", "F10"])]
    assert set(filled.row) == {"5-3-4", "reward GenAcc", "5-3-4 step 20"}  # Table 6 has no 5-3-4 rows
    t5 = filled.query("table == '5'").set_index("corpus").ours_genacc
    assert (t5["wiki"], t5["medcorp"]) == (60.0, 70.0)
    assert filled.query("table == '3' and dataset == 'avg'").ours_genacc.item() == 60.0
    eight = compare(ours(rows), GENERATORS, "qwen2.5-7b-instruct", 2.0, s3_is(BUDGET_833, "genacc", 20))
    assert set(eight[eight.ours_genacc.notna() & (eight.table == "6")].row) == {"8-3-3 Full Implementation"}
    assert eight[eight.ours_genacc.notna() & (eight.table == "F10")].empty  # Figure 10 is 5-3-4
    ablated = replace(BUDGET_833, selection=False)
    assert s3_variant_rows(ablated, "genacc", 20) == {"8-3-3 w/o Selection"}  # Table 6 only
    assert s3_variant_rows(replace(ablated, begin_with_search=False), "genacc", 20) == {"8-3-3 w/o Both"}
    assert s3_variant_rows(BUDGET_833, "em", 20) == {"reward EM"}  # Table 5 only
    assert s3_variant_rows(ablated, "em", 20) == set()  # in no table of the paper
    without = compare(ours(rows), GENERATORS, "qwen2.5-7b-instruct", 2.0, s3_is(ablated, "genacc", 20))
    assert set(without[without.ours_genacc.notna() & without.table.isin(["3", "5", "6", "F10"])].row) == {
        "8-3-3 w/o Selection"
    }


def test_the_comparison_page_keeps_the_papers_layouts_and_notes(tmp_path):
    table = compare(ours([]), GENERATORS, "qwen2.5-7b-instruct", 2.0, s3_is(BUDGET_833, "genacc", 20))
    write_comparison(table, tmp_path / "paper.md", tmp_path / "paper.csv", tmp_path / "paper.tex", 2.0)
    text = (tmp_path / "paper.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert [h.split(":")[0] for h in headings] == ["## Table 1"] * 4 + ["## Table 2"] * 3 + [
        "## Table 3",
        "## Table 5",
        "## Table 6",
        "## Figure 10",
    ]
    t5 = text.split("## Table 5")[1].split("## Table 6")[0]
    assert "| suite      | GenAcc         | LLMJudge       | Span           | EM             |" in t5
    assert "| General QA | not run / 58.9 |" in t5 and "| Medical QA | not run / 76.6 |" in t5
    assert "not run / 52.4 †" in text.split("## Table 3")[1]
    assert "- † 8-3-3, 2wikimultihopqa: 52.4 here and in Table 1, 55.1 in Table 6" in text
    latex = (tmp_path / "paper.tex").read_text()  # the same tables, booktabs floats
    assert latex.count(r"\begin{table}") == len(headings) and latex.count(r"\toprule") == len(headings)
    assert (
        r"\caption{Table 3: the search budget (\#retrieved-\#selected-\#turns), Claude-3-Haiku: GenAcc ours / the "
        r"paper's ($\Delta$). \textsuperscript{\dag} 8-3-3, 2wikimultihopqa: 52.4 here" in latex
    )
    assert r"not run / 52.4 \textsuperscript{\dag}" in latex and "Search-R1-7B (Ret)" in latex


def test_a_generator_can_stand_for_a_paper_block():
    tiny = parse("generators", {"smollm2-135m": {"backend": "hf", "model": "results/demo/assets/llm"}})
    rows = [("smollm2-135m", "rag_dense", "wiki", "nq", 25.0)]
    assert compare(ours(rows), tiny, "smollm2-135m", 2.0).ours_genacc.isna().all()  # names no paper model
    table = compare(ours(rows), tiny, "smollm2-135m", 2.0, stands_for={"smollm2-135m": "Claude-3-Haiku"})
    [cell] = table[table.ours_genacc.notna()].to_dict("records")
    assert (cell["block"], cell["row"], cell["dataset"], cell["delta"], cell["flag"]) == (
        "Claude-3-Haiku",
        "RAGE5",
        "nq",
        round(25.0 - cell["genacc"], 1),
        True,
    )


def s3_run(search: SearchConfig, metric: str = "genacc", steps: int = 20) -> JobConfig:
    """An s3 run's sections as `s3core table --s3-runs` gives them."""
    return job_config({"search": to_dict(search), "reward": {"metric": metric}, "train": {"steps": steps}})


def test_ablations_fill_their_rows_and_seeds_give_a_spread_that_silences_flags():
    claude = "claude-3-haiku"
    runs = {
        "s3": s3_run(BUDGET_833),
        "s3.no_selection": s3_run(replace(BUDGET_833, selection=False)),
        "s3.reward_em": s3_run(BUDGET_833, "em"),
        "s3.long": s3_run(BUDGET_833, steps=300),
    }
    rows = variant_rows(runs)
    assert rows["8-3-3 w/o Selection"] == "s3.no_selection" and rows["reward EM"] == "s3.reward_em"
    assert rows["8-3-3"] == rows["reward GenAcc"] == "s3"  # the base wins a row two runs fill
    seeds = [
        (claude, "s3", "wiki", "nq", 60.0, "s3"),
        (claude, "s3", "wiki", "nq", 80.0, "s3.seed7"),
        (claude, "s3.no_selection", "wiki", "nq", 40.0),
        (claude, "s3.reward_em", "wiki", "nq", 45.0),
    ]
    table = compare(ours(seeds), GENERATORS, "qwen2.5-7b-instruct", 2.0, rows).set_index(
        ["table", "block", "row", "dataset"]
    )
    full = table.loc[("6", "Claude-3-Haiku", "8-3-3 Full Implementation", "nq")]
    assert full.ours_genacc == 70.0 and round(full.ours_sd, 1) == 14.1  # mean and sd over seeds
    assert abs(full.delta) < full.ours_sd and not full.flag  # within the seeds' spread
    ablated = table.loc[("6", "Claude-3-Haiku", "8-3-3 w/o Selection", "nq")]
    assert ablated.ours_genacc == 40.0 and ablated.ours_sd == 0.0 and ablated.flag
    assert pd.isna(table.loc[("F10", "Claude-3-Haiku", "5-3-4 step 300", "nq")].ours_genacc)  # 8-3-3 ran long

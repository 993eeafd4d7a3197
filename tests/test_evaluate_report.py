"""The shared evaluator (real demo LLM as generator and judge) and the results tables."""

import pandas as pd
import pytest

from s3core.data.jsonl import write_jsonl
from s3core.data.rows import context_row
from s3core.errors import DataError
from s3core.evaluation.evaluator import answer_contexts, cot_answer, judge, score
from s3core.reporting.tables import write_tables


class ScriptedJudge:
    """A judge whose replies are given in advance (the judge *logic* is under test, not a model)."""

    name = "scripted"
    prompt_format = "chat"

    def __init__(self, replies):
        self.replies = list(replies)
        self.asked = []

    def chat(self, conversations, max_new_tokens=None):
        self.asked.extend(conversations)
        return [self.replies.pop(0) for _ in conversations]


def _row(answer, golds, data_source="nq"):
    return {"answer": answer, "golden_answers": golds, "data_source": data_source, **score(answer, golds)}


def test_genacc_is_span_else_judge():
    rows = [_row("It is Paris.", ["Paris"]), _row("The French capital", ["Paris"]), _row("Rome", ["Paris"])]
    scripted = ScriptedJudge(["Yes", "no"])
    judge(rows, scripted)
    assert len(scripted.asked) == 2  # the span hit is not sent to the judge
    assert scripted.asked[0][0]["content"].startswith(
        "Please check if any of the golden answers is contained in the following response: The French capital"
    )
    assert [(r["span"], r["judge"], r["genacc"]) for r in rows] == [
        (True, None, 1.0),
        (False, True, 1.0),
        (False, False, 0.0),
    ]
    judge(rows, None)
    assert [r["genacc"] for r in rows] == [1.0, 0.0, 0.0]
    everyone = ScriptedJudge(["no", "Yes", "no"])  # reward.metric judge: the span hit is asked too
    judge(rows, everyone, every_row=True)
    assert len(everyone.asked) == 3 and [(r["judge"], r["genacc"]) for r in rows] == [
        (False, 1.0),
        (True, 1.0),
        (False, 0.0),
    ]  # GenAcc is unchanged: span, else the judge


def test_golden_answers_must_be_a_list_of_strings_before_anything_is_generated():
    generator = ScriptedJudge([])  # would fail if asked to answer
    for golds in ("Paris", ["Paris", 3], None):
        with pytest.raises(DataError, match="question 'q7': golden_answers must be a list of strings"):
            answer_contexts(
                [
                    {
                        "id": "q7",
                        "question": "capital of France?",
                        "golden_answers": golds,
                        "docs": [],
                        "data_source": "nq",
                    }
                ],
                generator,
                None,
            )
    assert generator.asked == []


def test_unclear_judge_reply_is_asked_once_more_then_wrong():
    rows = [_row("Lyon", ["Paris"]), _row("Nice", ["Paris"]), _row("Rome", ["Paris"])]
    scripted = ScriptedJudge(["Maybe", "hmm", "No", "Yes!", "unsure"])  # rows 1 and 2 unclear, asked again
    judge(rows, scripted)
    assert [c[0]["content"] for c in scripted.asked[3:]] == [
        scripted.asked[0][0]["content"],
        scripted.asked[1][0]["content"],
    ]
    assert [(r["judge"], r["genacc"]) for r in rows] == [(True, 1.0), (False, 0.0), (False, 0.0)]


def test_mirage_rows_are_scored_by_the_judge_alone():
    rows = [_row("A: Aspirin", ["A: Aspirin"], "medqa"), _row("B: Insulin", ["A: Aspirin"], "pubmedqa")]
    scripted = ScriptedJudge(["no", "yes"])
    judge(rows, scripted)
    assert len(scripted.asked) == 2 and rows[0]["span"]  # the span check does not decide on MIRAGE sets
    assert [(r["judge"], r["genacc"]) for r in rows] == [(False, 0.0), (True, 1.0)]
    judge(rows, None)  # judging off: the span check is all there is
    assert [r["genacc"] for r in rows] == [1.0, 0.0]


@pytest.mark.slow  # generates with the demo LLM
def test_answer_contexts_with_demo_llm(hf_generator):
    question = {
        "id": "q1",
        "question": "What is the capital of France?",
        "golden_answers": ["Paris"],
        "data_source": "demo",
    }
    docs = [{"id": "1", "title": "Paris", "text": "Paris is the capital and largest city of France."}]
    rows = answer_contexts(
        [context_row(question, "rag_bm25", docs), context_row(question, "direct", [])], hf_generator, hf_generator
    )
    expected = {
        "id",
        "question",
        "golden_answers",
        "data_source",
        "method",
        "docs",
        "trace",
        "generator",
        "answer",
        "raw_answer",
        "em",
        "f1",
        "span",
        "judge",
        "genacc",
    }
    assert all(set(r) == expected for r in rows)
    assert rows[0]["generator"] == "smol" and rows[0]["answer"]
    assert "paris" in rows[0]["answer"].lower() and rows[0]["genacc"] == 1.0
    assert all(0.0 <= r["f1"] <= 1.0 and r["genacc"] in (0.0, 1.0) for r in rows)


def test_cot_answers_reason_then_extract(hf_generator):
    question = {
        "id": "q1",
        "question": "What is the capital of France?",
        "golden_answers": ["Paris"],
        "data_source": "demo",
    }
    row = answer_contexts([context_row(question, "cot", [])], hf_generator, None, "cot", 48)[0]
    assert len(row["raw_answer"]) > len(row["answer"]) and row["answer"] == cot_answer(row["raw_answer"])
    assert row["judge"] is None and row["genacc"] == float(row["span"])


def _answers(tmp_path, generator, method, dataset, scores, source=None):
    path = tmp_path / method / generator / f"{dataset}.jsonl"
    write_jsonl(
        path,
        [
            {"generator": generator, "method": method, "data_source": source or dataset, "genacc": g, "em": e, "f1": f}
            for g, e, f in scores
        ],
    )
    return path


def test_tables_order_averages_and_generators(tmp_path):
    files = [
        _answers(tmp_path, "g1", "rag_dense", "nq", [(1, 0, 0.5), (0, 0, 0.0)]),
        _answers(tmp_path, "g1", "rag_dense", "tqa", [(1, 1, 1.0)]),
        _answers(tmp_path, "g1", "direct", "nq", [(0, 0, 0.0), (1, 1, 1.0)]),
        _answers(tmp_path, "g1", "direct", "tqa", [(0, 0, 0.2)]),
        _answers(tmp_path, "g2", "direct", "nq", [(1, 1, 1.0)]),
        _answers(tmp_path, "g2", "direct", "tqa", [(1, 1, 1.0)]),
    ]
    md, csv = tmp_path / "t" / "main.md", tmp_path / "t" / "main.csv"
    frame = write_tables(files, md, csv, tmp_path / "t" / "main.tex")
    text = md.read_text()
    assert text.index("## Generator: g1") < text.index("## Generator: g2")
    g1 = text.split("## Generator: g2")[0]
    assert g1.index("| Direct") < g1.index("| RAG-dense")  # paper order, not input order
    cells = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in g1.splitlines()
        if line.startswith("| ") and "Method" not in line
    }
    assert cells["RAG-dense"] == ["50.0 (0.0) / 25.0", "100.0 (100.0) / 100.0", "75.0 (50.0) / 62.5"]
    assert cells["Direct"] == ["50.0 (50.0) / 50.0", "0.0 (0.0) / 20.0", "25.0 (25.0) / 35.0"]
    assert "nq n=2, tqa n=1" in text
    latex = (tmp_path / "t" / "main.tex").read_text()  # one booktabs float per table
    assert (
        latex.count(r"\begin{table}") == 2
        and r"\caption{Generator: g1. GenAcc (EM) / F1 in \%; nq n=2, tqa n=1.}" in latex
    )
    assert r"RAG-dense & 50.0 (0.0) / 25.0 & 100.0 (100.0) / 100.0 & 75.0 (50.0) / 62.5 \\" in latex
    long = pd.read_csv(csv)
    assert len(long) == len(frame) == 6 and set(long.columns) == {
        "generator",
        "suite",
        "corpus",
        "method",
        "dataset",
        "source",
        "run",
        "genacc",
        "em",
        "f1",
        "n",
    }
    assert long.query("generator == 'g1' and method == 'direct' and dataset == 'nq'").genacc.item() == pytest.approx(
        50.0
    )


def test_medical_sets_get_their_own_table_and_average(tmp_path):
    files = [
        _answers(tmp_path, "g", "rag_dense", "nq", [(1, 1, 1.0)]),
        _answers(tmp_path, "g", "rag_dense", "medqa", [(0, 0, 0.0), (1, 0, 0.5)]),
        _answers(tmp_path, "g", "rag_dense", "pubmedqa", [(0, 0, 0.0)]),
    ]
    md, csv = tmp_path / "t" / "main.md", tmp_path / "t" / "main.csv"
    write_tables(files, md, csv, tmp_path / "main.tex")
    general, medical = md.read_text().split("## Generator: g, medical QA (MIRAGE; GenAcc = the judge alone)")
    assert "nq n=1" in general and "medqa" not in general
    assert "medqa n=2, pubmedqa n=1" in medical and "| nq" not in medical
    row = next(line for line in medical.splitlines() if line.startswith("| RAG-dense"))
    assert [c.strip() for c in row.split("|")[2:-1]] == ["50.0 (0.0) / 25.0", "0.0 (0.0) / 0.0", "25.0 (0.0) / 12.5"]
    assert set(pd.read_csv(csv).query("dataset == 'medqa'").suite) == {"medical"}


def test_sets_searched_in_medcorp_get_a_table_of_their_own(tmp_path):
    files = [
        _answers(tmp_path, "g", "direct", "medqa", [(1, 1, 1.0)]),
        _answers(tmp_path, "g", "rag_dense", "medqa", [(0, 0, 0.0)]),
        _answers(tmp_path, "g", "rag_dense", "medqa_medcorp", [(1, 0, 0.5)], source="medqa"),
    ]
    md, csv = tmp_path / "t" / "main.md", tmp_path / "t" / "main.csv"
    write_tables(files, md, csv, tmp_path / "main.tex", {"medqa": "wiki", "medqa_medcorp": "medcorp"})
    wiki, medcorp = md.read_text().split(", searched in MedCorp (Wikipedia + PubMed + Textbooks)")
    assert "medqa n=1" in wiki and "| Direct" in wiki and "medqa_medcorp" not in wiki
    assert "medqa_medcorp n=1" in medcorp and "| Direct" not in medcorp
    row = next(line for line in medcorp.splitlines() if line.startswith("| RAG-dense"))
    assert [c.strip() for c in row.split("|")[2:-1]] == ["100.0 (0.0) / 50.0", "100.0 (0.0) / 50.0"]
    assert set(pd.read_csv(csv).query("dataset == 'medqa_medcorp'").corpus) == {"medcorp"}


def test_seeds_are_averaged_with_their_spread_and_ablations_get_rows_of_their_own(tmp_path):
    files = [
        _answers(tmp_path, "g", "s3", "nq", [(1, 1, 1.0), (1, 0, 0.5)]),  # seed 42: 100
        _answers(tmp_path, "g", "s3.seed7", "nq", [(1, 1, 1.0), (0, 0, 0.0)]),  # seed 7: 50
        _answers(tmp_path, "g", "s3.no_selection", "nq", [(0, 0, 0.0), (0, 0, 0.0)]),
        _answers(tmp_path, "g", "s3.no_selection.seed7", "nq", [(1, 0, 0.0), (0, 0, 0.0)]),
        _answers(tmp_path, "g", "rag_dense", "nq", [(1, 0, 0.5), (0, 0, 0.0)]),
        _answers(tmp_path, "g", "s3", "tqa", [(1, 1, 1.0)]),
        _answers(tmp_path, "g", "s3.seed7", "tqa", [(0, 0, 0.0)]),
    ]
    md, csv = tmp_path / "t" / "main.md", tmp_path / "t" / "main.csv"
    write_tables(files, md, csv, tmp_path / "main.tex")
    rows = [line for line in md.read_text().splitlines() if line.startswith("| ") and "Method" not in line]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in rows}
    assert list(cells) == ["RAG-dense", "s3", "s3 [no_selection]"]  # the ablation right after s3
    # mean over seeds ± their sample sd; the average is taken per seed first: seed 42 (100+100)/2, seed 7 (50+0)/2
    assert cells["s3"] == ["75.0 ± 35.4 (50.0) / 62.5", "50.0 ± 70.7 (50.0) / 50.0", "62.5 ± 53.0 (50.0) / 56.2"]
    assert cells["s3 [no_selection]"] == ["25.0 ± 35.4 (0.0) / 0.0", "not run", "25.0 ± 35.4 (0.0) / 0.0"]
    assert cells["RAG-dense"] == ["50.0 (0.0) / 25.0", "not run", "50.0 (0.0) / 25.0"]  # one run: no spread
    long = pd.read_csv(csv)  # one row per seed
    assert sorted(long.query("method == 's3'").run) == ["s3", "s3", "s3.seed7", "s3.seed7"]

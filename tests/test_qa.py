"""QA-set preparation as upstream does it: question keys, split choice, the evaluation sample."""

import pandas as pd
import pytest

from s3core.data.qa import normalize_question, sample_eval_sets, sample_positions


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("who wrote hamlet", "who wrote hamlet?"),
        ("  who wrote hamlet? ", "who wrote hamlet?"),
        ("what is 2+2 ?", "what is 2+2 ?"),
        ("", "?"),
    ],
)
def test_normalize_question(raw, expected):
    assert normalize_question(raw) == expected


@pytest.mark.parametrize("count,size", [(10, 3), (3500, 3000), (5, 5), (4, 9)])
def test_sample_positions_are_pandas_sample(count, size):
    frame = pd.DataFrame({"row": range(count)})
    expected = frame.sample(n=size, random_state=42)["row"].tolist() if count > size else list(range(count))
    assert sample_positions(count, size, 42) == expected


def _rows(name, questions):
    return [{"id": f"{name}{i}", "question": q} for i, q in enumerate(questions)]


def test_sample_eval_sets_follows_upstream():
    sets = {
        "nq": _rows("nq", ["q0", "q1", "q2?", "q3", "q4", " q1"]),  # q1 twice: both rows kept if q1 is taken
        "popqa": _rows("pop", ["p0", "p0?", "q2", "p1", "q3", "p2"]),  # p0 twice: deduplicated first
        "tqa": _rows("t", ["q0", "t1"]),
    }
    sampled = sample_eval_sets(sets, {"nq": 100, "popqa": 100, "tqa": 100}, seed=42)
    assert [r["id"] for r in sampled["nq"]] == ["nq0", "nq1", "nq2", "nq3", "nq4", "nq5"]
    assert [r["id"] for r in sampled["popqa"]] == ["pop0", "pop3", "pop5"]  # q2, q3 taken by nq; p0 deduplicated
    assert [r["id"] for r in sampled["tqa"]] == ["t1"]
    small = sample_eval_sets({"nq": sets["nq"]}, {"nq": 2}, seed=42)["nq"]
    order = sample_positions(6, 2, 42)
    taken = {normalize_question(sets["nq"][i]["question"]) for i in order}
    assert [r["id"] for r in small] == [r["id"] for r in sets["nq"] if normalize_question(r["question"]) in taken]
    assert len(taken) == 2 and [r["id"] for r in small] == sorted(r["id"] for r in small)  # file order

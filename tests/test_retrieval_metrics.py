"""Recall@k and nDCG@k of the documents a method hands the generator, against a question's gold documents: values
computed by hand, and the evaluator's answer rows carry them where the question names gold documents."""

import math

import pytest

from s3core.data.rows import context_row
from s3core.evaluation.evaluator import answer_contexts
from s3core.evaluation.retrieval_metrics import ndcg_at_k, recall_at_k, retrieval_scores

LOG3 = math.log2(3)


def _docs(*ids):
    return [{"id": doc_id, "title": f"T{doc_id}", "text": f"text {doc_id}"} for doc_id in ids]


@pytest.mark.parametrize(
    ("ranked", "gold", "expected"),
    [
        # gold at places 1 and 3 of the first 3; all: a third gold at place 5 of 5, one gold never handed over
        (
            ["a", "x", "b", "y", "c"],
            {"a", "b", "c", "d"},
            {
                "recall@3": 2 / 4,
                "ndcg@3": (1 + 1 / 2) / (1 + 1 / LOG3 + 1 / 2),
                "recall@all": 3 / 4,
                "ndcg@all": (1 + 1 / 2 + 1 / math.log2(6)) / (1 + 1 / LOG3 + 1 / 2 + 1 / math.log2(5)),
            },
        ),
        # one document handed over: @3 counts the two places left empty against it, "all" does not
        (["b"], {"a", "b"}, {"recall@3": 1 / 2, "ndcg@3": 1 / (1 + 1 / LOG3), "recall@all": 1 / 2, "ndcg@all": 1.0}),
        # a gold id handed over twice counts at its first place only
        (
            ["a", "a", "b"],
            {"a", "b"},
            {"recall@3": 1.0, "ndcg@3": 1.5 / (1 + 1 / LOG3), "recall@all": 1.0, "ndcg@all": 1.5 / (1 + 1 / LOG3)},
        ),
        ([], {"a"}, {"recall@3": 0.0, "ndcg@3": 0.0, "recall@all": 0.0, "ndcg@all": 0.0}),  # direct: no documents
    ],
    ids=["mixed", "fewer than k", "repeated id", "no documents"],
)
def test_recall_and_ndcg_by_hand(ranked, gold, expected):
    scores = retrieval_scores({"docs": _docs(*ranked), "gold_docs": sorted(gold)})
    assert scores == pytest.approx(expected)
    assert recall_at_k(ranked, gold, 3) == pytest.approx(expected["recall@3"])
    assert ndcg_at_k(ranked, gold, None) == pytest.approx(expected["ndcg@all"])


def test_perfect_ranking_scores_one_and_a_row_without_gold_documents_scores_nothing():
    assert retrieval_scores({"docs": _docs("a", "b", "z"), "gold_docs": ["b", "a"]}) == {
        "recall@3": 1.0,
        "ndcg@3": 1.0,
        "recall@all": 1.0,
        "ndcg@all": 1.0,
    }
    assert retrieval_scores({"docs": _docs("a")}) == {} and retrieval_scores({"docs": [], "gold_docs": []}) == {}


class Parrot:
    """A generator that answers every question with the first document's title (the scoring is under test)."""

    name = "parrot"
    prompt_format = "chat"

    def chat(self, conversations, max_new_tokens=None):
        return [c[0]["content"].split("(Title: ")[1].split(")")[0].strip('"') for c in conversations]


def test_answer_rows_carry_the_scores_where_the_question_names_gold_documents():
    with_gold = {"id": "q1", "question": "q?", "golden_answers": ["Ta"], "data_source": "mine", "gold_docs": ["a"]}
    without = {"id": "q2", "question": "q?", "golden_answers": ["Ta"], "data_source": "nq"}
    contexts = [context_row(with_gold, "rag", _docs("x", "a")), context_row(without, "rag", _docs("a"))]
    assert contexts[0]["gold_docs"] == ["a"] and "gold_docs" not in contexts[1]
    scored, plain = answer_contexts(contexts, Parrot(), None)
    assert (scored["answer"], plain["answer"]) == ("Tx", "Ta")
    assert scored["recall@3"] == 1.0 and scored["ndcg@3"] == pytest.approx(1 / LOG3)
    assert not {"recall@3", "ndcg@3", "recall@all", "ndcg@all"} & set(plain)

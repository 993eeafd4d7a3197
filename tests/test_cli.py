"""The `s3core` command line: verbs run end to end and errors end in exit code 2 with a message."""

import json
import logging

from s3core.cli import main
from s3core.jsonl import read_jsonl, write_jsonl

QUESTIONS = [
    {"id": "q1", "question": "largest planet in the solar system", "golden_answers": ["Jupiter"],
     "data_source": "demo", "split": "test", "metadata": {}},
    {"id": "q2", "question": "who wrote hamlet", "golden_answers": ["William Shakespeare"],
     "data_source": "demo", "split": "test", "metadata": {}},
]


def test_infer_rag_through_a_sidecar_and_direct(tmp_path, bm25_index, small_corpus, retriever_settings):
    qa = tmp_path / "qa.jsonl"
    write_jsonl(qa, QUESTIONS)
    settings = json.dumps(retriever_settings)
    assert main(["infer", "--method", "rag_bm25", "--qa", str(qa), "--out", str(tmp_path / "rag.jsonl"),
                 "--index", str(bm25_index), "--corpus", str(small_corpus), "--retriever", settings,
                 "--server-log", str(tmp_path / "server.log")]) == 0
    rows = read_jsonl(tmp_path / "rag.jsonl")
    assert [r["id"] for r in rows] == ["q1", "q2"] and all(len(r["docs"]) == 3 for r in rows)
    assert rows[0]["docs"][0]["title"] == "Jupiter" and rows[0]["method"] == "rag_bm25"
    assert main(["infer", "--method", "direct", "--qa", str(qa), "--out", str(tmp_path / "d.jsonl")]) == 0
    assert [r["docs"] for r in read_jsonl(tmp_path / "d.jsonl")] == [[], []]


def test_errors_exit_2_with_a_message(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    assert main(["download", "--assets", '{"kind": "paper"}', "--out", str(tmp_path)]) == 2
    assert "not implemented yet" in caplog.text
    assert main(["download", "--assets", '{"kind": "demo", "seed": "x"}', "--out", str(tmp_path)]) == 2
    assert "assets.seed" in caplog.text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{oops\n')
    assert main(["infer", "--method", "direct", "--qa", str(bad), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "bad.jsonl:2" in caplog.text

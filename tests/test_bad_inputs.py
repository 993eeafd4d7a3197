"""Bad input gets a message that names the file, line or key and what to do, never a traceback (the probe's
inputs of issue 19, item 11); each case failed with a traceback or silently before."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from jobs import job_json

from s3core.cli import main
from s3core.config import schema as config
from s3core.errors import ConfigError

GOOD = {"id": "q1", "question": "who wrote hamlet", "golden_answers": ["Shakespeare"], "data_source": "nq"}


def _write(path, lines: list[bytes]):
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        ([b"\n", json.dumps(GOOD).encode() + b"\n", b'{"id": "q\xff2"}\n'], "bad.jsonl:3: not UTF-8 text (byte 0xff"),
        (
            [json.dumps({"id": "q1", "golden_answers": ["x"]}).encode() + b"\n"],
            "bad.jsonl:1: the row has no 'question'; questions rows need id, question, golden_answers, data_source",
        ),
        (
            [json.dumps({**GOOD, "golden_answers": "Shakespeare"}).encode() + b"\n"],
            "bad.jsonl:1: 'golden_answers' must be a list",
        ),
        ([json.dumps({**GOOD, "id": True}).encode() + b"\n"], "bad.jsonl:1: 'id' must be a string or an integer"),
        ([b"\n"], "bad.jsonl holds no questions"),
    ],
)
def test_a_bad_questions_file_names_the_file_and_line(tmp_path, caplog, lines, needle):
    caplog.set_level(logging.ERROR)
    qa = _write(tmp_path / "bad.jsonl", lines)
    assert main(["infer", "--method", "direct", "--qa", str(qa), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert needle in caplog.text and "Traceback" not in caplog.text
    assert not (tmp_path / "o.jsonl").exists()


def test_an_unknown_method_lists_the_known_ones(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    qa = _write(tmp_path / "qa.jsonl", [json.dumps(GOOD).encode()])
    assert main(["infer", "--method", "rag_e5", "--qa", str(qa), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown method 'rag_e5' (eval.methods, --method); known: direct, cot, rag_bm25, rag_dense" in caplog.text


def test_evaluating_an_empty_context_file_is_refused_not_scored_zero(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    contexts = _write(tmp_path / "contexts.jsonl", [])
    job = job_json("evaluate", generators={"g": {"backend": "hf", "model": "unused"}})
    assert (
        main(
            [
                "evaluate",
                "--contexts",
                str(contexts),
                "--out",
                str(tmp_path / "a.jsonl"),
                "--generator",
                "g",
                "--config",
                job,
            ]
        )
        == 2
    )
    assert "contexts.jsonl holds no contexts" in caplog.text and not (tmp_path / "a.jsonl").exists()


def test_a_table_over_answer_files_without_answers_says_so(tmp_path):
    from s3core.errors import DataError
    from s3core.reporting.tables import write_tables

    (tmp_path / "direct" / "g").mkdir(parents=True)
    empty = _write(tmp_path / "direct" / "g" / "nq.jsonl", [])
    with pytest.raises(DataError, match="none of the 1 answer files holds an answer .*nq.jsonl.*evaluate steps again"):
        write_tables([empty], tmp_path / "m.md", tmp_path / "m.csv", tmp_path / "m.tex")


def test_a_missing_gguf_is_named(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    assert main(["convert-llm", "--gguf", str(tmp_path / "model.gguf"), "--out", str(tmp_path / "llm")]) == 2
    assert f"the GGUF model {tmp_path / 'model.gguf'} does not exist" in caplog.text


@pytest.mark.parametrize(
    ("section", "key"), [("reward", "generator"), ("judge", "generator"), ("baselines", "reasoner")]
)
def test_a_generator_name_that_is_not_configured_is_refused(section, key):
    data = copy.deepcopy(config.load("config/config.yaml"))
    data[section][key] = "qwen-typo"
    with pytest.raises(
        ConfigError,
        match=f"config key '{section}.{key}': 'qwen-typo' is not a generator; name one of generators: smollm2-135m",
    ):
        config.check_across_keys(data)

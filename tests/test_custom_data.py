"""`assets.kind: custom`: a researcher's own corpus and questions from local files (JSONL, gzipped JSONL, CSV,
Parquet) or a hub dataset's split (from a stand-in hub) become the suite's corpus, QA files and manifest through
`s3core download`; every kind of bad row stops with the file, the line (Parquet: the row) and what to fix."""

import csv
import gzip
import hashlib
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fake_hub import FakeHub, Repo

from s3core.assets.custom import build_corpus, read_questions
from s3core.assets.passage_lengths import passage_lengths
from s3core.cli import main
from s3core.config import schema as config
from s3core.config.sections import to_dict
from s3core.data.jsonl import read_jsonl
from s3core.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]

LONG = " ".join(["the river runs past the old mill and the stone bridge"] * 4)  # 44 words: over 16 tokens
DOCS = [
    {"id": "d1", "title": "Paris", "text": "Paris is the capital of France."},
    {"id": "d2", "title": "Berlin", "text": "Berlin is the capital of Germany."},
    {"id": "d3", "title": "Danube", "text": LONG},
    {"id": "d4", "title": "Rome", "text": "Rome is the capital of Italy."},
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _contents_rows():
    return [{"id": d["id"], "contents": f'"{d["title"]}"\n{d["text"]}'} for d in DOCS]


def _assets(corpus, train, **eval_sets):
    return config.section(
        "assets", {"kind": "custom", "corpus": {"path": str(corpus)}, "train": train, "eval": eval_sets}
    )


def test_download_builds_the_corpus_questions_and_manifest(tmp_path, retriever_config):
    corpus = _jsonl(tmp_path / "corpus.jsonl", DOCS)
    train = _csv(
        tmp_path / "train.csv",
        ["question", "golden_answers", "gold_docs", "level"],
        [
            ["capital of france", '["Paris", "City of Light"]', '["d1"]', "easy"],
            ["capital of germany", "Berlin", "d2", "easy"],
        ],
    )
    mine = _jsonl(
        tmp_path / "mine.jsonl",
        [
            {"id": 7, "question": "What is the capital of Italy?", "golden_answers": "Rome", "gold_docs": ["d4"]},
            {"question": "Which river runs past the mill", "golden_answers": "Danube", "metadata": {"hops": 1}},
        ],
    )
    assets = _assets(corpus, {"path": str(train)}, mine={"path": str(mine), "split": "dev"})
    dense = replace(retriever_config.dense, max_length=16)
    out, corpus_out = tmp_path / "data", tmp_path / "data" / "corpora" / "wiki.jsonl"
    argv = ["download", "--assets", json.dumps(assets), "--out", str(out), "--corpus", str(corpus_out)]
    assert main([*argv, "--config", json.dumps({"retriever": {"dense": to_dict(dense)}})]) == 0

    assert read_jsonl(corpus_out) == _contents_rows()
    assert read_jsonl(out / "qa" / "train.jsonl") == [
        {
            "id": "train_0",
            "question": "capital of france?",
            "golden_answers": ["Paris", "City of Light"],
            "data_source": "train",
            "split": "train",
            "metadata": {"level": "easy"},
            "gold_docs": ["d1"],
        },
        {
            "id": "train_1",
            "question": "capital of germany?",
            "golden_answers": ["Berlin"],
            "data_source": "train",
            "split": "train",
            "metadata": {"level": "easy"},
            "gold_docs": ["d2"],
        },
    ]
    assert read_jsonl(out / "qa" / "mine.jsonl") == [
        {
            "id": "7",
            "question": "What is the capital of Italy?",
            "golden_answers": ["Rome"],
            "data_source": "mine",
            "split": "dev",
            "metadata": {},
            "gold_docs": ["d4"],
        },
        {
            "id": "mine_1",
            "question": "Which river runs past the mill?",
            "golden_answers": ["Danube"],
            "data_source": "mine",
            "split": "dev",
            "metadata": {"hops": 1},
        },
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["corpus"]["sha256"] == hashlib.sha256(corpus_out.read_bytes()).hexdigest()
    assert manifest["corpus"]["documents"] == 4
    assert manifest["sources"][str(corpus)] == hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert manifest["qa"]["mine"] == {"source": str(mine), "questions": 2, "sampled": 2, "with_gold_docs": 1}
    lengths = json.loads((out / "corpus_lengths.json").read_text())
    assert lengths["counted_with"] == f"the tokenizer of {dense.encoder}"
    assert (lengths["passages"], lengths["over_max_length"], lengths["max_length"]) == (4, 1, 16)
    assert [row["id"] for row in lengths["longest_over"]] == ["d3"] and lengths["tokens"]["max"] > 44
    assert manifest["corpus"]["lengths"] == {k: v for k, v in lengths.items() if k != "longest_over"}


def test_a_contents_parquet_corpus_and_a_gzipped_jsonl_one_give_the_same_rows(tmp_path):
    parquet = tmp_path / "corpus.parquet"
    pd.DataFrame(_contents_rows()).to_parquet(parquet)
    gzipped = tmp_path / "corpus.jsonl.gz"
    with gzip.open(gzipped, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in DOCS)
    for path in (parquet, gzipped):
        out = tmp_path / f"{path.name}.out.jsonl"
        count, ids = build_corpus({"path": str(path), "format": "auto"}, out)
        assert (count, ids) == (4, {"d1", "d2", "d3", "d4"})
        assert read_jsonl(out) == _contents_rows()


def test_without_the_encoders_tokenizer_the_lengths_are_an_estimate_and_say_so(tmp_path, retriever_config):
    corpus = _jsonl(tmp_path / "corpus.jsonl", _contents_rows())
    dense = replace(retriever_config.dense, encoder=str(tmp_path / "no-such-encoder"), max_length=16)
    report = passage_lengths(corpus, dense)
    assert report["counted_with"].startswith("an estimate, words x 1.33, not the encoder's tokens (OSError")
    assert report["over_max_length"] == 1 and report["longest_over"] == [{"id": "d3", "tokens": round(45 * 4 / 3)}]


def test_the_schema_takes_custom_files_and_refuses_a_custom_set_without_a_path(tmp_path):
    assets = _assets("c.parquet", {"path": "t.csv", "size": 100}, mine={"path": "m.jsonl"})
    assert assets["corpus"] == {"path": "c.parquet", "format": "auto", "revision": "main", "split": "train"}
    assert assets["eval"]["mine"] == {
        "path": "m.jsonl",
        "revision": "main",
        "format": "auto",
        "split": None,
        "size": None,
        "corpus": "wiki",
    }
    with pytest.raises(ConfigError, match="'assets.eval.mine': name exactly one of path or dataset"):
        _assets("c.jsonl", {"path": "t.csv"}, mine={"source": "nq_test", "size": 5})
    with pytest.raises(ConfigError, match="'assets.corpus': name exactly one of path or dataset"):
        config.section("assets", {"kind": "custom", "train": {"path": "t.csv"}, "eval": {"m": {"path": "m.csv"}}})


def _corpus_error(path):
    with pytest.raises(DataError) as caught:
        build_corpus({"path": str(path), "format": "auto"}, path.with_suffix(".out.jsonl"))
    assert not path.with_suffix(".out.jsonl").exists()  # nothing half-written
    return str(caught.value)


@pytest.mark.parametrize(
    ("rows", "line", "fix"),
    [
        ([DOCS[0], DOCS[1], {**DOCS[2], "id": "d1"}], 3, "id 'd1' appears a second time; corpus ids must be unique"),
        ([DOCS[0], {"title": "T", "text": "words"}], 2, "the row has no 'id'; give every corpus row a unique id"),
        ([DOCS[0], {"id": "d9", "title": "T", "text": "  "}], 2, "document 'd9' has no text"),
        ([{"id": "d9", "contents": '"Title only"\n'}], 1, "has a title line but no text after it"),
    ],
    ids=["duplicate id", "missing id", "no text", "contents without text"],
)
def test_a_bad_corpus_row_names_file_line_and_fix(tmp_path, rows, line, fix):
    path = _jsonl(tmp_path / "corpus.jsonl", rows)
    message = _corpus_error(path)
    assert message.startswith(f"{path}:{line}: ") and fix in message


def test_bad_utf8_and_a_malformed_line_name_file_and_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(json.dumps(DOCS[0]).encode() + b'\n{"id": "d2", "text": "caf\xe9"}\n')
    assert _corpus_error(path) == f"{path}:2: not UTF-8 text (byte 0xe9 at column 26); re-encode the file as UTF-8"
    path.write_text(json.dumps(DOCS[0]) + '\n\n{"id": "d2", "text": "cut off\n', encoding="utf-8")
    message = _corpus_error(path)
    assert message.startswith(f"{path}:3: not valid JSON (") and message.endswith("fix or delete this line")


def test_a_bad_parquet_row_names_its_row_number(tmp_path):
    path = tmp_path / "corpus.parquet"
    pd.DataFrame([*DOCS, {"id": "d2", "title": "Again", "text": "A second d2."}]).to_parquet(path)
    assert _corpus_error(path).startswith(f"{path} row 5: id 'd2' appears a second time")


def _questions_error(path, corpus_ids=frozenset({"d1", "d2"})):
    with pytest.raises(DataError) as caught:
        read_questions({"path": str(path), "format": "auto", "split": None}, "mine", set(corpus_ids))
    return str(caught.value)


@pytest.mark.parametrize(
    ("row", "fix"),
    [
        (["   ", "Paris", ""], "the row has no question; give it a non-empty 'question'"),
        (["capital of france", "", ""], "'golden_answers' holds no answer; give each question at least one"),
        (["capital of france", "[]", ""], "'golden_answers' holds no answer"),
        (["capital of france", '["Paris", ""]', ""], "'golden_answers' holds an empty answer"),
        (["capital of france", "Paris", '["d1", "d7"]'], "gold document id 'd7' is not in the corpus"),
        (["capital of france", '["Paris"', ""], "'golden_answers' starts like a JSON list but is not one"),
    ],
    ids=["empty question", "no answers", "empty list", "empty answer", "unknown gold id", "broken list"],
)
def test_a_bad_question_row_names_file_line_and_fix(tmp_path, row, fix):
    path = _csv(
        tmp_path / "mine.csv",
        ["question", "golden_answers", "gold_docs"],
        [["capital of germany", "Berlin", "d2"], row],
    )
    message = _questions_error(path)
    assert message.startswith(f"{path}:3: ") and fix in message


def test_a_csv_record_over_several_lines_is_named_by_its_first_line(tmp_path):
    path = _csv(tmp_path / "mine.csv", ["question", "golden_answers"], [["two\nlines", "A"], ["three", "B"], ["", "C"]])
    assert _questions_error(path).startswith(f"{path}:5: the row has no question")


def test_question_ids_repeat_and_unknown_formats_are_refused(tmp_path):
    path = _jsonl(
        tmp_path / "mine.jsonl",
        [{"id": "q", "question": "a", "golden_answers": ["x"]}, {"id": "q", "question": "b", "golden_answers": ["y"]}],
    )
    assert _questions_error(path).startswith(f"{path}:2: question id 'q' appears a second time")
    other = tmp_path / "mine.tsv"
    other.write_text("question\tanswer\n", encoding="utf-8")
    assert _questions_error(other) == (
        f"{other}: assets.eval.mine reads files ending in .jsonl, .jsonl.gz, .csv, .csv.gz, .parquet, .pq; rename "
        "the file, or set assets.eval.mine.format to one of jsonl, csv, parquet"
    )


def test_a_whole_config_of_kind_custom_loads(tmp_path):
    demo = (ROOT / "config/config.yaml").read_text(encoding="utf-8")
    custom = demo.replace("  kind: demo\n", "  kind: custom\n")
    custom = re.sub(r"  corpus:\n    distractors: .*\n", "  corpus: {path: my/corpus.parquet}\n", custom)
    custom = re.sub(r"  train: \{source: nq_dev, size: 4\}.*\n", "  train: {path: my/train.csv, size: 4}\n", custom)
    custom = re.sub(r"    nq: \{source: nq_test.*\n    triviaqa: .*\n", "    mine: {path: my/test.jsonl}\n", custom)
    path = tmp_path / "custom.yaml"
    path.write_text(custom, encoding="utf-8")
    assets = config.load(path)["assets"]
    assert (assets["kind"], assets["corpus"]["path"], list(assets["eval"])) == ("custom", "my/corpus.parquet", ["mine"])


def _parquet(rows) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(rows).to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture
def data_hub(monkeypatch):
    """A stand-in hub with a corpus repo (its train split in two Parquet shards) and a questions repo (train as JSONL
    files named by split, test as a folder of CSV, a validation split that nobody asks for)."""
    questions = [{"question": "capital of france", "golden_answers": ["Paris"], "gold_docs": ["d1"]}]
    csv_text = "question,golden_answers,gold_docs\nWhat is the capital of Italy?,Rome,d4\n"
    hub = FakeHub(
        {
            ("dataset", "me/corpus"): Repo(
                {
                    "README.md": b"# my corpus\n",
                    "data/train-00000-of-00002.parquet": _parquet(DOCS[:2]),
                    "data/train-00001-of-00002.parquet": _parquet(DOCS[2:]),
                }
            ),
            ("dataset", "me/questions"): Repo(
                {
                    "train.jsonl": b"".join(json.dumps(q).encode() + b"\n" for q in questions),
                    "test/part-0.csv": csv_text.encode(),
                    "validation.jsonl": b'{"question": "unused", "golden_answers": ["x"]}\n',
                }
            ),
        }
    )
    url = hub.start()
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)  # the tests run offline otherwise
    monkeypatch.setenv("HF_ENDPOINT", url)
    yield hub
    hub.stop()


def test_a_hub_datasets_split_is_fetched_and_read_as_local_files_are(tmp_path, data_hub, retriever_config):
    assets = config.section(
        "assets",
        {
            "kind": "custom",
            "corpus": {"dataset": "me/corpus"},
            "train": {"dataset": "me/questions"},
            "eval": {
                "mine": {"dataset": "me/questions", "revision": data_hub.repos[("dataset", "me/questions")].commit}
            },
        },
    )
    out, corpus_out = tmp_path / "data", tmp_path / "data" / "corpora" / "wiki.jsonl"
    argv = ["download", "--assets", json.dumps(assets), "--out", str(out), "--corpus", str(corpus_out)]
    assert main([*argv, "--config", json.dumps({"retriever": {"dense": to_dict(retriever_config.dense)}})]) == 0
    assert read_jsonl(corpus_out) == _contents_rows()  # both shards, in order
    assert [(q["id"], q["golden_answers"], q["split"]) for q in read_jsonl(out / "qa" / "train.jsonl")] == [
        ("train_0", ["Paris"], "train")
    ]
    [test] = read_jsonl(out / "qa" / "mine.jsonl")  # the folder test/, not validation.jsonl
    assert (test["golden_answers"], test["gold_docs"], test["split"]) == (["Rome"], ["d4"], "test")
    manifest = json.loads((out / "manifest.json").read_text())
    shards = manifest["sources"]["me/corpus@main:train"]
    assert [row["path"] for row in shards] == ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    assert all(row["sha256"] == hashlib.sha256((out / "hub" / "me" / "corpus" / row["path"]).read_bytes()).hexdigest()
               for row in shards)  # fmt: skip
    assert shards[0]["commit"] == data_hub.repos[("dataset", "me/corpus")].commit
    assert manifest["qa"]["mine"]["source"] == "me/questions"


def test_a_split_the_hub_dataset_lacks_and_an_entry_with_path_and_dataset_are_refused(tmp_path, data_hub):
    from s3core.assets.hub_datasets import fetch_split
    from s3core.errors import AssetError

    with pytest.raises(AssetError, match=r"me/questions, revision main: no file of split 'dev' .* in 'split'"):
        fetch_split("me/questions", "dev", "main", tmp_path)
    both = {"kind": "custom", "corpus": {"path": "c.jsonl", "dataset": "me/corpus"}, "train": {"path": "t.csv"}}
    with pytest.raises(ConfigError, match=r"'assets.corpus': name exactly one of path or dataset"):
        config.section("assets", {**both, "eval": {}})


def test_a_set_of_your_own_under_an_upstream_sets_name_is_refused():
    """`medqa` would be scored by the judge alone (MIRAGE's rule), `popqa` deduplicated: a name of your own."""
    for name in ("medqa", "popqa"):
        with pytest.raises(
            ConfigError, match=rf"'assets.eval.{name}': '{name}' is an upstream set's name.*'my_{name}'"
        ):
            config.check_sources(_assets("c.jsonl", {"path": "t.csv"}, **{name: {"path": "m.jsonl"}}))
    config.check_sources(_assets("c.jsonl", {"path": "t.csv"}, my_medqa={"path": "m.jsonl"}))

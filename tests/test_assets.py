import pytest

from s3core.assets.demo import (
    QA_SOURCES,
    _gguf_read_once,
    attach_answer_docs,
    build_demo_data,
    corpus_subset,
    load_dpr_qa,
    resolve_path,
    sample,
    verify,
)
from s3core.config import schema as config
from s3core.data.corpus import Document
from s3core.data.jsonl import read_jsonl
from s3core.errors import AssetError

JAR = "pkg:pyserini/resources/jars/anserini-0.21.0-fatjar.jar"


def test_resolve_path_names_missing_package_and_file():
    with pytest.raises(AssetError, match="pip install --no-deps 'no_such_pkg'"):
        resolve_path("pkg:no_such_pkg/x")
    with pytest.raises(AssetError, match="does not exist in the installed package 'pyserini'"):
        resolve_path("pkg:pyserini/nope.bin")
    assert resolve_path("plain/path").as_posix() == "plain/path"


def test_checksum_mismatch_is_reported():
    with pytest.raises(AssetError, match="differs from the pinned"):
        verify("topics.dpr.nq.test.txt", "0" * 64)


@pytest.mark.parametrize("source", sorted(QA_SOURCES))
def test_every_qa_source_parses_to_its_pinned_count(source):
    rows = load_dpr_qa(resolve_path(JAR), source)
    assert len(rows) == QA_SOURCES[source][1]
    assert all(r["question"] and r["golden_answers"] and isinstance(r["golden_answers"], list) for r in rows)
    assert rows[0]["id"] == f"{source}_0" and rows[0]["split"] in {"dev", "test"}


def test_answer_filter_sampling_and_subset():
    docs = [Document("0", "Paris", "x"), Document("1", "The Beatles", "y"), Document("2", "Lyon", "z")]
    questions = [
        {"id": "a", "golden_answers": ["paris"], "metadata": {}},
        {"id": "b", "golden_answers": ["Beatles"], "metadata": {}},  # article dropped by normalisation
        {"id": "c", "golden_answers": ["Rome"], "metadata": {}},
    ]
    kept = attach_answer_docs(questions, docs)
    assert [(q["id"], q["metadata"]["answer_doc_ids"]) for q in kept] == [("a", ["0"]), ("b", ["1"])]
    assert sample(kept, 2, 42, "x") == kept
    assert sample(kept, 1, 42, "x") == sample(kept, 1, 42, "x")
    with pytest.raises(AssetError, match="only 2 pass"):
        sample(kept, 3, 42, "x")
    assert [d.id for d in corpus_subset(docs, {"1"}, 1, 0)] in (["0", "1"], ["1", "2"])
    assert corpus_subset(docs, {"1"}, None, 0) == docs


def test_build_demo_data_small(tmp_path):
    assets = config.section(
        "assets",
        {
            "kind": "demo",
            "corpus": {"distractors": 50},
            "train": {"source": "nq_dev", "size": 5},
            "eval": {"nq": {"source": "nq_test", "size": 4}},
        },
    )
    manifest = build_demo_data(assets, tmp_path, tmp_path / "corpus.jsonl")
    corpus_ids = {r["id"] for r in read_jsonl(tmp_path / "corpus.jsonl")}
    for name, size in [("train", 5), ("nq", 4)]:
        rows = read_jsonl(tmp_path / "qa" / f"{name}.jsonl")
        assert len(rows) == size
        assert all(set(r["metadata"]["answer_doc_ids"]) <= corpus_ids for r in rows)
    assert manifest["corpus"]["documents"] == len(corpus_ids) == manifest["corpus"]["answer_documents"] + 50
    assert manifest["corpus"]["source_documents"] == 10033
    assert build_demo_data(assets, tmp_path / "again", tmp_path / "again.jsonl") == manifest  # deterministic (seed 42)


def test_the_conversion_builds_gguf_readers_and_name_maps_once_and_then_restores_them():
    import gguf

    originals = gguf.GGUFReader, gguf.get_tensor_name_map
    arch = gguf.MODEL_ARCH.LLAMA
    with _gguf_read_once():
        assert gguf.get_tensor_name_map(arch, 30) is gguf.get_tensor_name_map(arch, 30)
        assert gguf.GGUFReader is not originals[0]
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == originals
    assert gguf.get_tensor_name_map(arch, 30) is not gguf.get_tensor_name_map(arch, 30)

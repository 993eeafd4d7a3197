import json
import os
import stat

import pytest

from s3core.data.atomic import atomic_open, current_umask
from s3core.data.corpus import Document, format_docs, read_corpus
from s3core.data.jsonl import read_jsonl, write_jsonl
from s3core.errors import DataError
from s3core.retrieval.docstore import DocStore, line_offsets


def test_corrupt_line_names_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(DataError, match=r"x\.jsonl:3: not valid JSON"):
        read_jsonl(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(DataError, match="x.jsonl:1: expected a JSON object"):
        read_jsonl(path)
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(path, rows())
    assert read_jsonl(path) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary left behind
    with atomic_open(tmp_path / "new" / "f.txt") as handle:
        handle.write("ok")
    assert (tmp_path / "new" / "f.txt").read_text() == "ok"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert current_umask() == umask
        write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])  # mkstemp alone would give 0600
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "rows.jsonl").stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)


def test_document_formats():
    doc = Document.from_contents("7", '"Paris"\nParis is the capital of France.\n')
    assert (doc.title, doc.text) == ("Paris", "Paris is the capital of France.")
    assert Document.from_contents("7", doc.contents) == doc
    assert Document.from_row({"id": 3, "title": "T", "text": "x"}) == Document("3", "T", "x")
    assert format_docs([doc, Document("8", "Lyon", "A city.")]) == (
        'Doc 1 (Title: "Paris") Paris is the capital of France.\nDoc 2 (Title: "Lyon") A city.'
    )
    quoted = Document.from_contents("9", '""Weird Al" Yankovic"\nA musician.')  # one pair of quotes removed
    assert quoted.title == '"Weird Al" Yankovic' and quoted.contents == '""Weird Al" Yankovic"\nA musician.'
    assert Document.from_contents("1", "Unquoted\nx").title == "Unquoted"


def test_corpus_row_without_text_names_row(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "1", "contents": "T\nx"}) + "\n" + json.dumps({"id": "2"}) + "\n")
    with pytest.raises(DataError, match="row 2 lacks key"):
        list(read_corpus(path))


def test_docstore_random_access(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": f"d{i}", "contents": f'"T{i}"\ntext é {i}'} for i in range(5)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    store = DocStore(path, line_offsets(path))
    assert len(store) == 5
    assert store.get(3) == Document("d3", "T3", "text é 3")
    assert store.get(0).id == "d0" and store.get(4).id == "d4"


def test_a_folder_is_published_whole_or_not_at_all(tmp_path):
    from s3core.data.atomic import atomic_folder

    target = tmp_path / "searcher"
    with atomic_folder(target) as partial:
        (partial / "config.json").write_text("{}")
    assert [p.name for p in target.iterdir()] == ["config.json"]
    assert target.stat().st_mode & 0o777 == 0o777 & ~current_umask()
    with pytest.raises(RuntimeError), atomic_folder(target) as partial:  # killed half-way: the old one stays
        (partial / "model.safetensors").write_text("half")
        raise RuntimeError("killed")
    assert [p.name for p in target.iterdir()] == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["searcher"]  # no partial folder left
    with atomic_folder(target) as partial:  # a new one replaces the old
        (partial / "new.json").write_text("{}")
    assert [p.name for p in target.iterdir()] == ["new.json"]

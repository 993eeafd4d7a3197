"""`assets.kind: custom`: a researcher's own corpus and questions, from local files or a hub dataset's split (each
entry's `path` or `dataset`), as this project's corpus and QA JSONL (docs/design.md §2), every row checked as it
streams; errors name the file, the line (Parquet: the row) and what to fix.

- Corpus (JSONL, `.jsonl.gz`, Parquet): rows `id` + `title` + `text`, or `id` + `contents` (wiki-18's quoted title
  line, then the text); ids unique, every row with text. Written as `{"id", "contents"}` rows.
- Questions (JSONL, CSV, Parquet): `question`; `golden_answers`, a list or one string (CSV: a cell holding a JSON
  list is that list, any other text one answer); optional `id` (else `<set>_<row index from 0>`), `query` (the text
  it is searched with) and `gold_docs`, corpus ids of the documents that answer it (a list, or one id; CSV: a JSON
  list or one id); every other column goes into `metadata`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from s3core.assets.demo import sha256_file
from s3core.assets.hub_datasets import fetch_split
from s3core.assets.passage_lengths import passage_lengths
from s3core.config.sections import DenseConfig
from s3core.data.corpus import Document
from s3core.data.jsonl import write_json, write_jsonl
from s3core.data.qa import normalize_question, sample_eval_sets, sample_rows
from s3core.data.rows import Question
from s3core.data.table_files import file_format, located_rows
from s3core.errors import DataError

CORPUS_FORMATS = ("jsonl", "parquet")
QA_FORMATS = ("jsonl", "csv", "parquet")
#: QA columns with a meaning of their own; the others go into `metadata` (a `metadata` object's keys too).
QA_KEYS = ("id", "question", "golden_answers", "gold_docs", "query", "metadata")
LENGTHS_FILE = "corpus_lengths.json"


def _row_id(where: str, row: dict[str, Any]) -> str | None:
    """A row's `id` as a string; None when it has none. A value that is not a string or an integer is refused."""
    value = row.get("id")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: 'id' must be a string or an integer, not {value!r}; write the id as text")
    return str(value)


def corpus_document(where: str, row: dict[str, Any]) -> Document:
    """One corpus row as a Document: `{id, contents}` (wiki-18) or `{id, title, text}`."""
    doc_id = _row_id(where, row)
    if doc_id is None:
        raise DataError(f"{where}: the row has no 'id'; give every corpus row a unique id")
    body = row.get("contents", row.get("text"))
    if not isinstance(body, str) or not body.strip():
        raise DataError(
            f"{where}: document {doc_id!r} has no text; corpus rows need a non-empty 'text' (with 'title') or "
            "'contents' (a title line, then the text): fill it in or drop the row"
        )
    if "contents" in row:
        doc = Document.from_contents(doc_id, body)
    else:
        title = row.get("title")
        doc = Document(doc_id, "" if title is None else str(title).strip(), body.strip())
    if not doc.text:
        raise DataError(
            f"{where}: document {doc_id!r} has a title line but no text after it; 'contents' is the title, a line "
            "break, then the text"
        )
    return doc


def corpus_rows(path: Path, fmt: str, ids: set[str]) -> Iterator[dict[str, str]]:
    """The corpus rows of `path` as `{"id", "contents"}`, in order; each id is added to `ids` (a repeated one is
    refused)."""
    for where, row in located_rows(path, fmt):
        doc = corpus_document(where, row)
        if doc.id in ids:
            raise DataError(
                f"{where}: id {doc.id!r} appears a second time; corpus ids must be unique (rename or drop one)"
            )
        ids.add(doc.id)
        yield {"id": doc.id, "contents": doc.contents}


def spec_files(spec: dict[str, Any]) -> list[Path]:
    """The files a corpus or QA entry reads: its `path`, or the files of its hub `dataset` (`files`, once
    `with_hub_files` has fetched them)."""
    return [Path(spec["path"])] if "path" in spec else spec["files"]


def with_hub_files(spec: dict[str, Any], split: str, hub_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`spec` with the files of its hub dataset's `split` fetched into `hub_dir` (a `path` entry as it is), and
    what the manifest's `sources` records of it (a file's sha256; a dataset's fetched files)."""
    if "path" in spec:
        return spec, {}
    files, fetched = fetch_split(spec["dataset"], split, spec["revision"], hub_dir)
    return {**spec, "files": files}, {f"{spec['dataset']}@{spec['revision']}:{split}": fetched}


def build_corpus(spec: dict[str, Any], out: Path) -> tuple[int, set[str]]:
    """Write the corpus `assets.corpus` names to `out`; (document count, its ids)."""
    ids: set[str] = set()
    files = spec_files(spec)
    formats = {path: _format(path, spec, CORPUS_FORMATS, "assets.corpus") for path in files}
    count = write_jsonl(out, (row for path, fmt in formats.items() for row in corpus_rows(path, fmt, ids)))
    if not count:
        raise DataError(f"{', '.join(map(str, files))}: the corpus holds no documents; check the file")
    return count, ids


def _format(path: Path, spec: dict[str, Any], allowed: tuple[str, ...], key: str) -> str:
    """A file's format: the entry's `format` for its `path`; from each file's name for a hub dataset's files."""
    return file_format(path, spec["format"] if "path" in spec else "auto", allowed, key)


def _as_list(where: str, key: str, value: Any, csv_cell: bool) -> list[str]:
    """A list-or-single value as a list of strings; a CSV cell holding a JSON list is that list, other text one
    value, an empty cell none."""
    if csv_cell and isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [text] if text else []
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f'{where}: {key!r} starts like a JSON list but is not one ({exc.msg}); write it as ["a", "b"]'
            ) from exc
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise DataError(f"{where}: {key!r} must be a list of strings or one string, not {value!r}")


def question_row(where: str, row: dict[str, Any], index: int, name: str, split: str, csv_file: bool) -> Question:
    """One QA row (docs/design.md §2) of set `name`; `index` is its position in the file (for a generated id)."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: the row has no question; give it a non-empty 'question' or drop the row")
    answers = _as_list(where, "golden_answers", row.get("golden_answers"), csv_file)
    if not answers or not all(a.strip() for a in answers):
        raise DataError(
            f"{where}: 'golden_answers' holds {'an empty answer' if answers else 'no answer'}; give each question at "
            'least one non-empty gold answer (a list, e.g. ["Paris"], or one string)'
        )
    given = isinstance(row.get("metadata"), dict)
    metadata = row["metadata"] if given else {}
    others = {k: v for k, v in row.items() if k not in QA_KEYS or (k == "metadata" and not given)}
    out: Question = {
        "id": _row_id(where, row) or f"{name}_{index}",
        "question": normalize_question(question),
        "golden_answers": [a.strip() for a in answers],
        "data_source": name,
        "split": split,
        "metadata": {**metadata, **others},
    }
    if isinstance(row.get("query"), str) and row["query"].strip():
        out["query"] = row["query"].strip()
    gold = _as_list(where, "gold_docs", row.get("gold_docs"), csv_file)
    if gold:
        out["gold_docs"] = gold
    return out


def read_questions(spec: dict[str, Any], name: str, corpus_ids: set[str]) -> list[Question]:
    """Every question of the file `assets.train` / `assets.eval.<name>` names; ids unique, gold documents in the
    corpus."""
    key = "assets.train" if name == "train" else f"assets.eval.{name}"
    files = {path: _format(path, spec, QA_FORMATS, key) for path in spec_files(spec)}
    located = ((fmt, place) for path, fmt in files.items() for place in located_rows(path, fmt))
    rows: list[Question] = []
    seen: set[str] = set()
    for index, (fmt, (where, raw)) in enumerate(located):
        row = question_row(where, raw, index, name, qa_split(spec, name), fmt == "csv")
        if row["id"] in seen:
            raise DataError(f"{where}: question id {row['id']!r} appears a second time; ids must be unique in a file")
        seen.add(row["id"])
        unknown = [doc_id for doc_id in row.get("gold_docs", []) if doc_id not in corpus_ids]
        if unknown:
            raise DataError(
                f"{where}: gold document id {unknown[0]!r} is not in the corpus ({len(unknown)} unknown in this row); "
                "name ids of assets.corpus rows in 'gold_docs'"
            )
        rows.append(row)
    if not rows:
        raise DataError(f"{', '.join(map(str, files))}: {key} holds no questions; check the file")
    return rows


def qa_split(spec: dict[str, Any], name: str) -> str:
    """A QA entry's split: its `split`, else train for the training questions and test for an evaluation set."""
    return str(spec["split"] or ("train" if name == "train" else "test"))


def _file_digests(specs: list[dict[str, Any]]) -> dict[str, str]:
    return {spec["path"]: sha256_file(Path(spec["path"])) for spec in specs if "path" in spec}


def build_custom_data(assets: dict[str, Any], out_dir: Path, corpus_out: Path, dense: DenseConfig) -> dict[str, Any]:
    """Write the corpus to `corpus_out`, qa/<set>.jsonl, manifest.json and corpus_lengths.json (passages over the
    dense encoder's `max_length`) to `out_dir`; return the manifest."""
    seed = assets["seed"]
    hub_dir = out_dir / "hub"
    corpus, fetched = with_hub_files(assets["corpus"], assets["corpus"]["split"], hub_dir)
    specs = {}
    for name, spec in {"train": assets["train"], **assets["eval"]}.items():
        specs[name], more = with_hub_files(spec, qa_split(spec, name), hub_dir)
        fetched.update(more)
    documents, ids = build_corpus(corpus, corpus_out)
    lengths = passage_lengths(corpus_out, dense)
    write_json(out_dir / LENGTHS_FILE, lengths)
    pools = {name: [dict(q) for q in read_questions(spec, name, ids)] for name, spec in specs.items()}
    sized = {name: spec["size"] or len(pools[name]) for name, spec in specs.items()}
    picked = {
        "train": sample_rows(pools["train"], sized["train"], seed),
        **sample_eval_sets({name: pools[name] for name in assets["eval"]}, sized, seed),
    }
    qa = {}
    for name, rows in picked.items():
        write_jsonl(out_dir / "qa" / f"{name}.jsonl", rows)
        qa[name] = {
            "source": specs[name].get("path") or specs[name]["dataset"],
            "questions": len(pools[name]),
            "sampled": len(rows),
            "with_gold_docs": sum(1 for row in rows if "gold_docs" in row),
        }
    summary = {k: v for k, v in lengths.items() if k != "longest_over"}
    manifest = {
        "seed": seed,
        "sources": {**_file_digests([corpus, *specs.values()]), **fetched},
        "corpus": {"documents": documents, "sha256": sha256_file(corpus_out), "lengths": summary},
        "qa": qa,
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest

"""Random access to corpus rows by position through byte offsets into a memory-mapped JSONL file, and the
corpus fingerprint an index folder keeps so it is never served with another corpus."""

from __future__ import annotations

import hashlib
import json
import mmap
from pathlib import Path
from typing import Any

import numpy as np

from s3core.data.corpus import Document
from s3core.errors import DataError

OFFSETS_FILE = "offsets.npy"
FINGERPRINT_FILE = "corpus.fingerprint.json"
#: Rows read for a fingerprint: evenly spaced, the first and last included (milliseconds on wiki-18's 21M rows).
SAMPLED_ROWS = 1024


def line_offsets(corpus: Path) -> np.ndarray:
    """Byte offset of every non-empty line of a corpus JSONL file; a corpus without one is refused."""
    offsets = []
    position = 0
    with corpus.open("rb") as handle:
        for line in handle:
            if line.strip():
                offsets.append(position)
            position += len(line)
    if not offsets:
        raise DataError(
            f"{corpus} holds no documents: an index needs at least one; check how the corpus was made "
            "(the download rule's log)"
        )
    return np.asarray(offsets, dtype=np.int64)


def fingerprint(data: bytes | mmap.mmap, offsets: np.ndarray) -> dict[str, Any]:
    """A corpus's size, row count and the sha256 of `SAMPLED_ROWS` evenly spaced rows: another corpus, even one
    whose lines have the same lengths, differs in it."""
    picks = np.unique(np.linspace(0, len(offsets) - 1, min(SAMPLED_ROWS, len(offsets))).astype(np.int64))
    digest = hashlib.sha256()
    for row in picks if len(offsets) else []:
        start = int(offsets[row])
        end = data.find(b"\n", start)
        digest.update(data[start : end if end >= 0 else len(data)])
    return {"bytes": len(data), "rows": len(offsets), "sampled_rows": len(picks), "sha256": digest.hexdigest()}


def save_index_meta(
    out_dir: Path, corpus: Path, offsets: np.ndarray, built_with_file: str, built_with: dict[str, Any]
) -> None:
    """What every index folder holds beside its index: the corpus offsets and fingerprint, and the settings it was
    made with."""
    np.save(out_dir / OFFSETS_FILE, offsets)
    store = DocStore(corpus, offsets)
    (out_dir / FINGERPRINT_FILE).write_text(json.dumps(fingerprint(store.data, offsets)))
    (out_dir / built_with_file).write_text(json.dumps(built_with))


class DocStore:
    """Documents of a corpus JSONL by row number; only the rows asked for are parsed."""

    def __init__(self, corpus: Path, offsets: np.ndarray):
        self.corpus = Path(corpus)
        self.offsets = offsets
        with self.corpus.open("rb") as handle:
            self.data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if self.corpus.stat().st_size else b""

    @classmethod
    def open(cls, corpus: Path, index_dir: Path) -> DocStore:
        """Use the offsets saved beside an index; the corpus file given must be the one the index was built from
        (its fingerprint, where the index has one: indexes built before fingerprints only get the length check)."""
        offsets = np.load(Path(index_dir) / OFFSETS_FILE)
        store = cls(corpus, offsets)
        if len(offsets) and offsets[-1] >= len(store.data):
            raise DataError(f"{corpus}: shorter than the corpus {index_dir} was built from; rebuild the index")
        recorded = Path(index_dir) / FINGERPRINT_FILE
        if recorded.exists() and json.loads(recorded.read_text()) != fingerprint(store.data, offsets):
            raise DataError(
                f"{corpus} is not the corpus {index_dir} was built from (its size or sampled rows differ "
                f"from {recorded}); serve the index with its own corpus, or rebuild the index"
            )
        return store

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, row: int) -> Document:
        start = int(self.offsets[row])
        end = self.data.find(b"\n", start)
        line = self.data[start : end if end >= 0 else len(self.data)]
        try:
            return Document.from_row(json.loads(line))
        except (json.JSONDecodeError, KeyError) as exc:
            raise DataError(f"{self.corpus}: corpus row {row + 1} is malformed ({exc})") from exc

    def ranked(self, scores: np.ndarray, ids: np.ndarray) -> list[list[tuple[Document, float]]]:
        """Each query's (document, score) list from a search's (scores, ids); ids of -1 (no row) are skipped."""
        return [
            [(self.get(int(i)), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
            for row_ids, row_scores in zip(ids, scores)
        ]

"""Random access to corpus rows by position through byte offsets into a memory-mapped JSONL file."""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

import numpy as np

from s3core.corpus import Document
from s3core.errors import DataError

OFFSETS_FILE = "offsets.npy"


def line_offsets(corpus: Path) -> np.ndarray:
    """Byte offset of every non-empty line of a JSONL file."""
    offsets = []
    position = 0
    with corpus.open("rb") as handle:
        for line in handle:
            if line.strip():
                offsets.append(position)
            position += len(line)
    return np.asarray(offsets, dtype=np.int64)


def save_index_meta(out_dir: Path, offsets: np.ndarray, settings_file: str, settings: dict[str, Any]) -> None:
    """What every index folder holds beside its index: the corpus offsets and the settings it was made with."""
    np.save(out_dir / OFFSETS_FILE, offsets)
    (out_dir / settings_file).write_text(json.dumps(settings))


class DocStore:
    """Documents of a corpus JSONL by row number; only the rows asked for are parsed."""

    def __init__(self, corpus: Path, offsets: np.ndarray):
        self.corpus = Path(corpus)
        self.offsets = offsets
        with self.corpus.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    @classmethod
    def open(cls, corpus: Path, index_dir: Path) -> "DocStore":
        """Use the offsets saved beside an index; they must cover the corpus file given."""
        offsets = np.load(Path(index_dir) / OFFSETS_FILE)
        store = cls(corpus, offsets)
        if len(offsets) and offsets[-1] >= len(store._map):
            raise DataError(f"{corpus}: shorter than the corpus {index_dir} was built from; rebuild the index")
        return store

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, row: int) -> Document:
        start = int(self.offsets[row])
        end = self._map.find(b"\n", start)
        line = self._map[start : end if end >= 0 else len(self._map)]
        try:
            return Document.from_row(json.loads(line))
        except (json.JSONDecodeError, KeyError) as exc:
            raise DataError(f"{self.corpus}: corpus row {row + 1} is malformed ({exc})") from exc

    def ranked(self, scores: np.ndarray, ids: np.ndarray) -> list[list[tuple[Document, float]]]:
        """Each query's (document, score) list from a search's (scores, ids); ids of -1 (no row) are skipped."""
        return [[(self.get(int(i)), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                for row_ids, row_scores in zip(ids, scores)]

"""FAISS IndexFlatIP files written block by block in constant memory, and opened memory-mapped.

A paper-scale flat index does not fit in a job's memory twice (wiki-18's e5 index is 64.5 GB in float32, MedCorp's
~166 GB), so it is never built in memory: its rows are streamed to disk behind the header FAISS writes for an
IndexFlatIP (the file is byte for byte what `faiss.write_index` writes), and it is read back with FAISS's zero-copy
memory map, so opening it costs no time and no memory until rows are read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from s3core.data.atomic import atomic_open
from s3core.errors import DataError

# FAISS's IndexFlat layout: fourcc, d, ntotal, two unused int64 fields (1 << 20), is_trained, metric, then the
# rows as one vector of float32 (its element count first).
_HEADER = struct.Struct("<4siqqq?iQ")
_UNUSED = 1 << 20


def write_flat_index(path: Path, dim: int, total: int, blocks: Iterable[np.ndarray]) -> int:
    """Write `blocks` (row blocks of width `dim`, `total` rows in all, in order) as an IndexFlatIP at `path`,
    atomically; returns the row count. A block count that differs from `total` is refused before the rename."""
    written = 0
    with atomic_open(path, "wb") as handle:
        handle.write(_HEADER.pack(b"IxFI", dim, total, _UNUSED, _UNUSED, True, faiss.METRIC_INNER_PRODUCT, total * dim))
        for block in blocks:
            if block.ndim != 2 or block.shape[1] != dim:
                raise DataError(f"{path}: a block of shape {block.shape} does not hold rows of width {dim}")
            if written + len(block) > total:
                raise DataError(f"{path}: more than the {total:,} rows announced")
            handle.write(np.ascontiguousarray(block, dtype="<f4").data)
            written += len(block)
        if written != total:
            raise DataError(f"{path}: {written:,} rows written but {total:,} announced")
    return written


def open_flat_index(path: Path) -> Any:
    """The index at `path`, its rows memory-mapped (read on demand, shared with the page cache, never copied)."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)

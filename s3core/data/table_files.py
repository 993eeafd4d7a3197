"""Rows of a researcher's own files (JSONL, gzipped JSONL, CSV, Parquet), each with where it came from: `file:line`
(JSONL, CSV: the line its record starts on) or `file row N` (Parquet, from 1), for errors that name the place."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from s3core.data.jsonl import numbered_rows
from s3core.errors import DataError

#: File name endings -> format, for `format: auto`.
SUFFIXES = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PARQUET_BATCH = 4096


def file_format(path: Path, given: str, allowed: tuple[str, ...], key: str) -> str:
    """The format of `path`: `given`, or for "auto" the one its name ends in; `key` names the config key."""
    if given != "auto":
        return given
    fmt = next((f for end, f in SUFFIXES.items() if path.name.endswith(end)), None)
    if fmt not in allowed:
        endings = ", ".join(end for end, f in SUFFIXES.items() if f in allowed)
        raise DataError(
            f"{path}: {key} reads files ending in {endings}; rename the file, or set {key}.format to one of "
            f"{', '.join(allowed)}"
        )
    return fmt


def located_rows(path: Path, fmt: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) per row of `path` in `fmt` (jsonl, csv, parquet); unreadable input raises DataError naming the
    file and the line or row."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path in the config")
    readers = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}
    yield from readers[fmt](path)


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, row in numbered_rows(path):
        yield f"{path}:{lineno}", row


def _decoded_lines(path: Path, counter: list[int]) -> Iterator[str]:
    """The lines of a (gzipped) text file as str; `counter[0]` is the number of the line last read."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for counter[0], raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{counter[0]}: not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
                    "re-encode the file as UTF-8"
                ) from exc


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows of a CSV file with a header line; every value a string (an empty cell: "")."""
    read = [0]
    reader = csv.reader(_decoded_lines(path, read))
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: no header line; the first line names the columns (e.g. question,golden_answers)")
    while True:
        start = read[0] + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}:{start}: not valid CSV ({exc}); fix the quoting of this record") from exc
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise DataError(
                f"{path}:{start}: {len(cells)} cells, but the header names {len(header)} columns; "
                "quote cells that hold a comma"
            )
        yield f"{path}:{start}", dict(zip(header, cells))


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow
    import pyarrow.parquet

    try:
        batches = pyarrow.parquet.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH)
    except pyarrow.ArrowException as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc}); write it with pandas' to_parquet") from exc
    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            number += 1
            yield f"{path} row {number}", {key: _text(value, path, number, key) for key, value in row.items()}


def _text(value: Any, path: Path, number: int, key: str) -> Any:
    """A binary Parquet value as text (string columns are UTF-8 already)."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} row {number}: {key!r} is not UTF-8 text; re-encode that column as UTF-8") from exc

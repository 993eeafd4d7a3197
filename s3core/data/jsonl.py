"""JSONL reading with file:line errors, typed rows, and atomic JSONL writes (`s3core.data.atomic`)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from s3core.data.atomic import atomic_open
from s3core.errors import DataError


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line (of a gzipped file too: `.gz`); a bad line raises DataError naming file and
    line."""
    for _, row in numbered_rows(path):
        yield row


def numbered_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, dict) per non-empty line, as `iter_jsonl`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{lineno}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                    f"{exc.start + 1}); re-encode the file as UTF-8"
                ) from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg}); fix or delete this line") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file."""
    return list(iter_jsonl(path))


#: The keys a questions file's rows must have (docs/design.md §2), and their JSON types.
QUESTION_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": (str, int),
    "question": str,
    "golden_answers": list,
    "data_source": str,
}
_JSON_TYPES = {
    str: "a string",
    int: "an integer",
    list: "a list",
    dict: "an object",
    float: "a number",
    bool: "true or false",
}


def read_rows(path: str | Path, keys: dict[str, type | tuple[type, ...]], what: str) -> list[dict[str, Any]]:
    """All rows of a JSONL file of `what` (e.g. "questions"), each with `keys` of their types; a file without
    rows is refused too. Errors name the file, the line and the key."""
    rows = []
    for lineno, row in numbered_rows(path):
        for key, kind in keys.items():
            if key not in row:
                raise DataError(f"{path}:{lineno}: the row has no {key!r}; {what} rows need {', '.join(keys)}")
            if not isinstance(row[key], kind) or isinstance(row[key], bool):
                kinds = kind if isinstance(kind, tuple) else (kind,)
                raise DataError(
                    f"{path}:{lineno}: {key!r} must be "
                    + " or ".join(_JSON_TYPES[k] for k in kinds)
                    + f", not {row[key]!r}"
                )
        rows.append(row)
    if not rows:
        raise DataError(f"{path} holds no {what}: there is nothing to run or score; check the step that wrote it")
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically; returns the number written."""
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows, each as one line written in one call (several processes may append to the same file)."""
    with open(path, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()


def write_json(path: str | Path, obj: Any) -> None:
    """Write one JSON document atomically (indented, for people)."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False)
        handle.write("\n")

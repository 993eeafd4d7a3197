"""Corpus documents: the wiki-18 `contents` format, readers, and the `Doc k (Title: T) text` rendering."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s3core.errors import DataError
from s3core.jsonl import iter_jsonl


@dataclass(frozen=True)
class Document:
    """One passage: the unit the retriever returns and the generator reads."""

    id: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """wiki-18 `contents`: the quoted title on the first line, then the text."""
        return f'"{self.title}"\n{self.text}'

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_contents(cls, doc_id: str, contents: str) -> "Document":
        """Parse wiki-18 `contents` (title on the first line, quotes optional)."""
        title, _, text = contents.partition("\n")
        return cls(id=str(doc_id), title=title.strip().strip('"'), text=text.strip())

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Document":
        """Accept `{id, contents}` (wiki-18) or `{id, title, text}` rows."""
        if "contents" in row:
            return cls.from_contents(row["id"], row["contents"])
        return cls(id=str(row["id"]), title=str(row.get("title", "")), text=str(row["text"]))


def read_corpus(path: str | Path) -> Iterator[Document]:
    """Documents of a corpus JSONL; a row without id/contents (or id/text) names its line."""
    for lineno, row in enumerate(iter_jsonl(path), start=1):
        try:
            yield Document.from_row(row)
        except KeyError as exc:
            raise DataError(
                f"{path}: row {lineno} lacks key {exc}; corpus rows need 'id' and 'contents' "
                "(or 'id', 'title', 'text')"
            ) from exc


def format_docs(docs: Iterable[Document]) -> str:
    """Render docs as upstream does: `Doc 1 (Title: T) text` lines, numbered from 1."""
    return "\n".join(f"Doc {i} (Title: {d.title}) {d.text}" for i, d in enumerate(docs, start=1))

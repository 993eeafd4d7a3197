"""Corpus documents: the wiki-18 `contents` format, readers, and upstream's three `Doc k` renderings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s3core.data.jsonl import iter_jsonl
from s3core.errors import DataError


@dataclass(frozen=True)
class Document:
    """One passage: the unit the retriever returns and the generator reads."""

    id: str
    title: str
    text: str

    @property
    def title_line(self) -> str:
        """The first line of wiki-18 `contents`: the title in double quotes."""
        return f'"{self.title}"'

    @property
    def contents(self) -> str:
        """wiki-18 `contents`: the quoted title on the first line, then the text."""
        return f"{self.title_line}\n{self.text}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_contents(cls, doc_id: str, contents: str) -> Document:
        """Parse wiki-18 `contents`: the title on the first line (one pair of surrounding quotes removed), the
        text after it."""
        title, _, text = contents.partition("\n")
        title = title.strip()
        if len(title) >= 2 and title[0] == title[-1] == '"':
            title = title[1:-1]
        return cls(id=str(doc_id), title=title, text=text.strip())

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Document:
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
                f"{path}: row {lineno} lacks key {exc}; corpus rows need 'id' and 'contents' (or 'id', 'title', 'text')"
            ) from exc


def format_docs(docs: Iterable[Document]) -> str:
    """Upstream's retrieval dump (naive RAG, IRCoT, Search-o1): `Doc k (Title: "T") text` lines joined by newlines,
    numbered from 1, the title line as wiki-18 stores it."""
    return "\n".join(f"Doc {i} (Title: {d.title_line}) {d.text}" for i, d in enumerate(docs, start=1))


def format_observation(docs: Iterable[Document]) -> str:
    """A search result as the searcher reads it (upstream's rollout): `Doc k(Title: "T") text` lines, no space
    before the parenthesis."""
    return "".join(f"Doc {i}(Title: {d.title_line}) {d.text}\n" for i, d in enumerate(docs, start=1)).strip()


def format_selected(docs: Iterable[Document]) -> str:
    """The s3 searcher's selected documents as the generator reads them (upstream's reward and s3 inference):
    `Doc k (Title: T)`, the text on the next line, a blank line after each."""
    return "".join(f"Doc {i} (Title: {d.title})\n{d.text}\n\n" for i, d in enumerate(docs, start=1))

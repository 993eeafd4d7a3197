"""The documents an s3 episode hands to the generator (DESIGN §1 "Selected context").

Each `<important_info>` keeps the listed ids of the nearest preceding `<information>` block; a block that no
`<important_info>` refers to contributes all its docs (the initial naive-RAG block included). The result is
deduplicated by text and renumbered by `format_docs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s3core.corpus import Document


@dataclass
class InformationBlock:
    """One `<information>` observation and the ids the searcher marked important in it (1-based)."""

    docs: list[Document]
    important_ids: list[int] = field(default_factory=list)
    marked: bool = False

    def mark(self, ids: list[int]) -> None:
        """Record an `<important_info>` that refers to this block (ids already validated)."""
        self.marked = True
        self.important_ids.extend(i for i in ids if i not in self.important_ids)

    def selected(self) -> list[Document]:
        if not self.marked:
            return list(self.docs)
        return [self.docs[i - 1] for i in self.important_ids]


def dedupe(docs: list[Document]) -> list[Document]:
    """First occurrence wins, by text (upstream's second pass, by (title, text), can drop nothing more)."""
    seen: set[str] = set()
    kept = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            kept.append(doc)
    return kept


def selected_context(blocks: list[InformationBlock]) -> list[Document]:
    """The episode's context for the generator, in trajectory order."""
    return dedupe([doc for block in blocks for doc in block.selected()])

"""The documents an s3 episode hands to the generator (upstream's reward and s3 inference).

An `<important_info>` refers to the latest `<information>` block when no earlier tag took it (a second tag after
the same block is ignored) and keeps the named docs, in the block's order. The context is first the docs kept by
tags, in tag order, then every block no tag took, whole, in trajectory order (the initial naive-RAG block
included); deduplicated by text (upstream's second pass, by title and text, can drop nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass

from s3core.data.corpus import Document


@dataclass
class InformationBlock:
    """One `<information>` observation and the ids (1-based) of the `<important_info>` that took it, if any."""

    docs: list[Document]
    kept_ids: list[int] | None = None

    @property
    def taken(self) -> bool:
        return self.kept_ids is not None

    def take(self, ids: list[int]) -> None:
        """Apply an `<important_info>` (ids already validated); ignored when a tag already took this block."""
        if not self.taken:
            self.kept_ids = list(ids)

    def kept(self) -> list[Document]:
        """The docs its tag kept, in block order."""
        return [doc for i, doc in enumerate(self.docs, start=1) if i in (self.kept_ids or [])]


def dedupe(docs: list[Document]) -> list[Document]:
    """First occurrence wins, by text."""
    seen: set[str] = set()
    kept = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            kept.append(doc)
    return kept


def selected_context(blocks: list[InformationBlock]) -> list[Document]:
    """The episode's context for the generator: tagged docs first, then the untagged blocks."""
    tagged = [doc for block in blocks if block.taken for doc in block.kept()]
    untagged = [doc for block in blocks if not block.taken for doc in block.docs]
    return dedupe(tagged + untagged)

"""Rules index and encode_shard: a BM25 or dense index of a corpus, built here or imported from upstream's files."""

from __future__ import annotations

import logging
from pathlib import Path

from s3core.config.sections import RetrieverConfig

log = logging.getLogger("s3core")


def build_index(
    kind: str,
    corpus: Path,
    out: Path,
    retriever: RetrieverConfig,
    threads: int,
    lucene: Path | None = None,
    shards: list[Path] | None = None,
    parts: list[Path] | None = None,
) -> int:
    """The `kind` index of `corpus` in `out`: imported from a prebuilt Lucene index (`lucene`) or FAISS index
    (`parts`), joined from encoded `shards`, or built whole; returns the document count."""
    if lucene:
        from s3core.retrieval.bm25 import import_bm25_index

        count = import_bm25_index(lucene, corpus, out, retriever.bm25)
        log.info("imported the Lucene index %s without rebuilding it", lucene)
        return count
    if kind == "bm25":
        from s3core.retrieval.bm25 import build_bm25_index

        return build_bm25_index(corpus, out, retriever.bm25, threads)
    from s3core.retrieval import dense

    if shards:
        return dense.gather_dense_index(shards, corpus, out, retriever.dense)
    if parts:
        count = dense.import_dense_index(parts, corpus, out, retriever.dense)
        log.info("imported %d pieces without re-encoding", len(parts))
        return count
    return dense.build_dense_index(corpus, out, retriever.dense)

"""BM25 over the corpus, saved to and loaded from disk: bm25s (Lucene scoring, the default) or Lucene itself
(`engine: pyserini`, `s3core.retrieval.lucene`), built here or imported prebuilt."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# bm25s runs top-k on JAX when it is installed; on a GPU node JAX would then take 75% of the GPU's memory at
# import, starving the searcher that shares the process. Keep JAX on the CPU unless the user chose otherwise.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import bm25s
import Stemmer

from s3core.config.sections import BM25Config, build, to_dict
from s3core.data.corpus import read_corpus
from s3core.errors import DataError
from s3core.retrieval.base import Hit
from s3core.retrieval.docstore import DocStore, line_offsets, save_index_meta

SETTINGS_FILE = "s3_bm25.json"


def _tokenize(texts: Iterable[str], bm25: BM25Config, return_ids: bool = True) -> Any:
    stemmer = Stemmer.Stemmer("english") if bm25.stemmer == "english" else None
    stopwords = "en" if bm25.stopwords == "english" else None
    return bm25s.tokenize(list(texts), stopwords=stopwords, stemmer=stemmer, show_progress=False, return_ids=return_ids)


def build_bm25_index(corpus: Path, out_dir: Path, bm25: BM25Config, threads: int = 1) -> int:
    """Index title + text of every document with the configured engine; returns the document count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    offsets = line_offsets(corpus)
    if bm25.engine == "pyserini":
        from s3core.retrieval.lucene import build_lucene_index

        build_lucene_index(corpus, out_dir, threads)
    else:
        texts = [f"{d.title}\n{d.text}" for d in read_corpus(corpus)]
        model = bm25s.BM25(k1=bm25.k1, b=bm25.b, method="lucene")
        model.index(_tokenize(texts, bm25), show_progress=False)
        model.save(out_dir, show_progress=False)
    save_index_meta(out_dir, corpus, offsets, SETTINGS_FILE, to_dict(bm25))
    return len(offsets)


def import_bm25_index(folder: Path, corpus: Path, out_dir: Path, bm25: BM25Config) -> int:
    """Use a prebuilt Lucene index of the corpus (upstream's of wiki-18, raw rows stored) without rebuilding it: its
    files are linked (copied across file systems) into the index folder, and it must hold one document per corpus
    line. Returns the document count."""
    from s3core.retrieval.lucene import LUCENE_DIR, LuceneRetriever

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, out_dir / LUCENE_DIR, copy_function=_link_or_copy, dirs_exist_ok=True)
    offsets = line_offsets(corpus)
    documents = len(LuceneRetriever(out_dir, bm25))
    if documents != len(offsets):
        raise DataError(
            f"{folder}: the Lucene index holds {documents:,} documents but {corpus} has "
            f"{len(offsets):,}; download the index and the corpus at matching revisions"
        )
    save_index_meta(out_dir, corpus, offsets, SETTINGS_FILE, to_dict(bm25))
    return documents


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def built_with(index_dir: Path) -> BM25Config:
    """The bm25 settings an index was built with (saved beside it)."""
    return build(BM25Config, json.loads((Path(index_dir) / SETTINGS_FILE).read_text()))


def open_bm25(index_dir: Path, corpus: Path) -> Any:
    """The retriever of a built BM25 index, by the engine it was built with."""
    bm25 = built_with(index_dir)
    if bm25.engine == "pyserini":
        from s3core.retrieval.lucene import LuceneRetriever

        return LuceneRetriever(index_dir, bm25)
    return BM25Retriever(index_dir, corpus)


class BM25Retriever:
    """Loaded bm25s index plus the document store."""

    kind = "bm25"

    def __init__(self, index_dir: Path, corpus: Path):
        self.bm25 = built_with(index_dir)
        self.model = bm25s.BM25.load(index_dir, mmap=True, show_progress=False)
        self.docs = DocStore.open(corpus, index_dir)

    def __len__(self) -> int:
        return len(self.docs)

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]:
        k = min(topk, len(self.docs))
        ids, scores = self.model.retrieve(
            _tokenize(queries, self.bm25, return_ids=False), k=k, show_progress=False, n_threads=1
        )
        return [
            [(self.docs.get(int(i)), float(s)) for i, s in zip(row_ids, row_scores) if s > 0]
            for row_ids, row_scores in zip(ids, scores)
        ]

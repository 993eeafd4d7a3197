"""BM25 speed and agreement: bm25s (s3core's index) against pyserini 0.21.0's Lucene BM25.

Both index the 10,033 Wikipedia lead sections of the demo (title + text) with k1=0.9, b=0.4 and answer the
same 1,000 distinct NQ-dev questions (top-10), one query at a time and as one batch. Lucene is driven
through pyserini's Java bridge (`pyserini.pyclass`) and its `SimpleSearcher`, the class pyserini's
`LuceneSearcher` wraps (pyserini's Python search module also imports scikit-learn and spaCy, which the
bridge does not need). Prints queries/s, the bm25s/Lucene ratio, and top-10 overlap.

Needs OpenJDK 17 (`apt-get install openjdk-17-jdk-headless`) and `pip install -r benchmarks/requirements.txt`.
Run: .venv/bin/python benchmarks/bm25_vs_pyserini.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, questions, wiki_corpus, write_corpus

from s3core.config.sections import parse
from s3core.retrieval.bm25 import BM25Retriever, build_bm25_index

K = 10
QUERIES = 1000
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def build_lucene(corpus: Path, out: Path) -> float:
    """pyserini's indexer (JsonCollection, 1 thread) in its own JVM; seconds, JVM start-up included."""
    command = [
        sys.executable,
        "-m",
        "pyserini.index.lucene",
        "--collection",
        "JsonCollection",
        "--input",
        str(corpus.parent),
        "--index",
        str(out),
        "--generator",
        "DefaultLuceneDocumentGenerator",
        "--threads",
        "1",
        "--storeRaw",
    ]
    seconds, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    return seconds


class Lucene:
    """pyserini 0.21.0's Lucene searcher with BM25(k1, b)."""

    def __init__(self, index: Path, k1: float, b: float):
        from pyserini.pyclass import autoclass

        self._list = autoclass("java.util.ArrayList")
        self.searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index))
        self.searcher.set_bm25(k1, b)

    def search(self, query: str) -> list[str]:
        return [hit.docid for hit in self.searcher.search(query, K)]

    def batch(self, queries: list[str], threads: int) -> list[list[str]]:
        texts, ids = self._list(), self._list()
        for i, query in enumerate(queries):
            texts.add(query)
            ids.add(str(i))
        found = self.searcher.batch_search(texts, ids, K, threads)
        return [[hit.docid for hit in found.get(str(i))] for i in range(len(queries))]


def bm25s_ids(retriever: BM25Retriever, queries: list[str]) -> list[list[str]]:
    return [[doc.id for doc, _ in hits] for hits in retriever.search(queries, K)]


def main() -> None:
    os.environ.setdefault("JAVA_HOME", JAVA_HOME)
    bm25 = parse("retriever", {}).bm25
    corpus = write_corpus(wiki_corpus(None), WORK / "bm25-corpus" / "corpus.jsonl")
    queries = questions(QUERIES)

    bm25s_build, _ = timed(lambda: build_bm25_index(corpus, WORK / "bm25s-index", bm25))
    lucene_build = build_lucene(corpus, WORK / "lucene-index")
    ours = BM25Retriever(WORK / "bm25s-index", corpus)
    lucene = Lucene(WORK / "lucene-index", bm25.k1, bm25.b)
    bm25s_ids(ours, queries[:50]), lucene.batch(queries[:200], 1)  # warm-up (JVM JIT)

    runs = {
        ("bm25s", "one query at a time"): lambda: [bm25s_ids(ours, [q])[0] for q in queries],
        ("Lucene", "one query at a time"): lambda: [lucene.search(q) for q in queries],
        ("bm25s", "one batch"): lambda: bm25s_ids(ours, queries),
        ("Lucene", "one batch, 1 thread"): lambda: lucene.batch(queries, 1),
        ("Lucene", "one batch, 2 threads"): lambda: lucene.batch(queries, 2),
    }
    rows, results = [], {}
    for (engine, mode), run in runs.items():
        seconds, results[engine, mode] = timed(run)
        rows.append({"engine": engine, "mode": mode, "queries/s": QUERIES / seconds})
    speed = pd.DataFrame(rows)
    lucene_qps = speed.set_index(["engine", "mode"])["queries/s"]
    speed["ratio vs Lucene (same mode)"] = [
        qps / lucene_qps["Lucene", "one query at a time" if "query" in mode else "one batch, 1 thread"]
        for mode, qps in zip(speed["mode"], speed["queries/s"])
    ]
    ours_top, theirs_top = results["bm25s", "one batch"], results["Lucene", "one batch, 1 thread"]
    overlap = np.mean([len(set(a) & set(b)) / K for a, b in zip(ours_top, theirs_top)])
    top1 = np.mean([bool(a) and bool(b) and a[0] == b[0] for a, b in zip(ours_top, theirs_top)])

    print(
        f"BM25, {len(wiki_corpus(None)):,} Wikipedia lead sections, {QUERIES:,} NQ-dev questions, top-{K}, "
        f"k1={bm25.k1} b={bm25.b}, {os.cpu_count()} CPU cores\n"
    )
    print(speed.round(2).to_markdown(index=False))
    print(f"\nindex build: bm25s {bm25s_build:.1f} s, Lucene {lucene_build:.1f} s (JVM start-up included)")
    print(
        f"agreement: mean top-{K} overlap {overlap:.1%}, same top-1 {top1:.1%} "
        "(bm25s: Snowball stemmer + English stopwords; Lucene: Porter stemmer + its stopword list)"
    )


if __name__ == "__main__":
    main()

"""BM25 with Lucene, as upstream's retriever did (`retriever.bm25.engine: pyserini`): Anserini's indexer and searcher
from the fat jar that pyserini 0.21.0 ships (its Python code is not imported), driven through pyjnius. Documents are
indexed as wiki-18 JSON with their raw rows stored, analysed by Anserini's default English analyzer (Porter stemming,
Lucene's stopwords: the bm25 `stemmer` and `stopwords` settings are bm25s's only). Needs Java 17 (JAVA_HOME)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from s3core.assets.demo import resolve_path
from s3core.config.sections import BM25Config
from s3core.data.corpus import Document
from s3core.errors import ConfigError
from s3core.retrieval.base import Hit

ANSERINI_JAR = "pkg:pyserini/resources/jars/anserini-0.21.0-fatjar.jar"
LUCENE_DIR = "lucene"


def java_home() -> str:
    """JAVA_HOME, else the JDK that `java` on PATH belongs to; a clear error when there is none."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise ConfigError(
            "retriever.bm25.engine 'pyserini' runs Lucene on Java 17: install a JDK 17 (Debian: "
            "openjdk-17-jdk-headless; conda: openjdk=17) or set JAVA_HOME, or use engine 'bm25s'"
        )
    return str(Path(java).resolve().parents[1])


def build_lucene_index(corpus: Path, out_dir: Path, threads: int) -> Path:
    """Index the corpus JSONL (`id`, `contents`) with Anserini's IndexCollection into `out_dir/lucene`."""
    jar = resolve_path(ANSERINI_JAR)
    java = Path(java_home()) / "bin" / "java"
    with tempfile.TemporaryDirectory() as only_corpus:  # JsonCollection reads every JSON file of its folder
        (Path(only_corpus) / "corpus.jsonl").symlink_to(corpus.resolve())
        command = [
            str(java),
            "-cp",
            str(jar),
            "io.anserini.index.IndexCollection",
            "-collection",
            "JsonCollection",
            "-input",
            only_corpus,
            "-index",
            str(out_dir / LUCENE_DIR),
            "-generator",
            "DefaultLuceneDocumentGenerator",
            "-threads",
            str(threads),
            "-storeRaw",
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out_dir / LUCENE_DIR


def _searcher_class() -> tuple[Any, Any]:
    """Anserini's SimpleSearcher class and Java's ArrayList (the JVM starts with the fat jar on its class path)."""
    os.environ.setdefault("JAVA_HOME", java_home())
    import jnius_config

    if not jnius_config.vm_running:
        jnius_config.set_classpath(str(resolve_path(ANSERINI_JAR)))
    from jnius import autoclass

    return autoclass("io.anserini.search.SimpleSearcher"), autoclass("java.util.ArrayList")


class LuceneRetriever:
    """Anserini's BM25 searcher over a Lucene index with raw documents stored."""

    kind = "bm25"

    def __init__(self, index_dir: Path, bm25: BM25Config):
        searcher, self._list = _searcher_class()
        self.searcher = searcher(str(Path(index_dir) / LUCENE_DIR))
        self.searcher.set_bm25(float(bm25.k1), float(bm25.b))
        self.threads = max(1, min(8, os.cpu_count() or 1))
        self.count = int(self.searcher.get_total_num_docs())

    def __len__(self) -> int:
        return self.count

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]:
        texts, ids = self._list(), self._list()
        for i, query in enumerate(queries):
            texts.add(query)
            ids.add(str(i))
        found = self.searcher.batch_search(texts, ids, min(topk, len(self)), self.threads)
        return [
            [(Document.from_row(json.loads(hit.raw)), float(hit.score)) for hit in found.get(str(i))]
            for i in range(len(queries))
        ]

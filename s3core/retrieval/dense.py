"""Dense retrieval: a Hugging Face encoder (mean pooling, L2 norm, e5-style prefixes) and a FAISS flat IP index."""

from __future__ import annotations

import copy
import json
import logging
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from s3core.assets.demo import resolve_path
from s3core.config.sections import DenseConfig, to_dict
from s3core.data.atomic import atomic_open
from s3core.data.corpus import Document, read_corpus
from s3core.errors import DataError
from s3core.retrieval.base import Hit, StageStats
from s3core.retrieval.docstore import DocStore, line_offsets, save_index_meta
from s3core.retrieval.encoder_graphs import EncoderGraphs
from s3core.retrieval.flat_index_file import open_flat_index, write_flat_index
from s3core.retrieval.flat_search import open_flat_search
from s3core.serving.devices import pick_device

INDEX_FILE = "index.faiss"
SETTINGS_FILE = "s3_dense.json"
CHUNK = 32768  # passages read, encoded and added to the index at a time
TOKENIZER_THREADS = 4
#: the dense settings that decide an index's vectors: queries are encoded as the index was built
ENCODING_KEYS = ("encoder", "query_prefix", "passage_prefix", "max_length", "fp16")
_worker_tokenizer: Any = None  # a tokenizer process's own tokenizer and length limit
log = logging.getLogger(__name__)


def _start_tokenizer(path: str, max_length: int) -> None:
    """Initialise a tokenizer process (it tokenises whole batches, alone on its core)."""
    global _worker_tokenizer
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from transformers import AutoTokenizer

    _worker_tokenizer = (AutoTokenizer.from_pretrained(path), max_length)


def _tokenize_in_process(texts: list[str]) -> dict[str, np.ndarray]:
    tokenizer, max_length = _worker_tokenizer
    return dict(tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np"))


class Encoder:
    """Text -> unit vectors with a Hugging Face encoder (mean pooling over non-padding tokens). `bulk` (index
    builds on a GPU): batches are tokenised by processes, one per spare core, so the GPU never waits for the
    tokenizer; otherwise (queries, the CPU) by threads, and on CUDA queries replay CUDA graphs (`cuda_graphs`)."""

    def __init__(self, dense: DenseConfig, bulk: bool = False):
        from transformers import AutoModel, AutoTokenizer

        self.dense = dense
        self.device = pick_device(dense.device)
        path = str(resolve_path(dense.encoder))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        dtype = torch.float16 if dense.fp16 and self.device.type == "cuda" else torch.float32
        self.model = AutoModel.from_pretrained(path, dtype=dtype).to(self.device).eval()
        self._local = threading.local()
        self._processes = bulk and self.device.type == "cuda"
        if self._processes:
            workers = max(1, (os.cpu_count() or 2) - 2)
            self._pool: Executor = ProcessPoolExecutor(
                workers, multiprocessing.get_context("spawn"), _start_tokenizer, (path, dense.max_length)
            )
        else:
            self._pool = ThreadPoolExecutor(TOKENIZER_THREADS, thread_name_prefix="tokenize")
        use_graphs = not bulk and self.device.type == "cuda" and dense.cuda_graphs
        self._graphs = self._capture_graphs() if use_graphs else None

    def _capture_graphs(self) -> EncoderGraphs | None:
        """The forward pass as CUDA graphs; None (eager kernels) where this model cannot be captured."""
        names = list(self._tokenize(["a"]))
        try:
            return EncoderGraphs(self._pooled, names, self.device, self.dense.batch_size, self.dense.max_length)
        except RuntimeError as exc:
            log.warning(
                "the query encoder could not be captured as CUDA graphs (%s); its kernels are launched "
                "one by one (slower). Set retriever.dense.cuda_graphs: false to skip the attempt",
                exc,
            )
            return None

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], prefix: str) -> np.ndarray:
        """float32 array (len(texts), dim), rows of unit length, in the order of `texts`.

        Texts are sorted by length so that batches carry little padding; batches are tokenised ahead (threads or
        processes) while the model runs, and on a GPU the vectors stay on the device until the last batch is
        queued."""
        size = self.dense.batch_size
        order = np.argsort([len(text) for text in texts], kind="stable")
        batches = [[prefix + texts[i] for i in order[start : start + size]] for start in range(0, len(order), size)]
        if self._processes:
            tokenized = self._pool.map(_tokenize_in_process, batches)
        else:
            tokenized = self._pool.map(self._tokenize, batches) if len(batches) > 1 else map(self._tokenize, batches)
        pieces = [self._embed(tokens) for tokens in tokenized]
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        if pieces:
            vectors[order] = torch.cat(pieces).cpu().numpy()
        return vectors

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Tokenise with this thread's own copy of the tokenizer (one instance is not thread-safe)."""
        if not hasattr(self._local, "tokenizer"):
            self._local.tokenizer = copy.deepcopy(self.tokenizer)
        return dict(
            self._local.tokenizer(
                texts, padding=True, truncation=True, max_length=self.dense.max_length, return_tensors="np"
            )
        )

    @torch.inference_mode()
    def _embed(self, tokens: dict[str, np.ndarray]) -> torch.Tensor:
        """Unit vectors (float32) of one batch, on the model's device (in host memory from the graphs)."""
        if self._graphs is not None:
            return self._graphs(tokens)
        return self._pooled(
            {name: torch.from_numpy(array).to(self.device, non_blocking=True) for name, array in tokens.items()}
        )

    @torch.inference_mode()
    def _pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)


def _chunks(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    while chunk := list(islice(docs, size)):
        yield chunk


def _encoded(docs: Iterator[Document], encoder: Encoder, prefix: str, total: int) -> Iterator[np.ndarray]:
    """The documents' vectors, a chunk at a time. A passage is encoded as upstream's index builder does: the
    passage prefix, then wiki-18 `contents` (quoted title line, text)."""
    with tqdm(desc="encode passages", unit="doc", total=total) as bar:
        for chunk in _chunks(docs, CHUNK):
            yield encoder.encode([d.contents for d in chunk], prefix)
            bar.update(len(chunk))


def build_dense_index(corpus: Path, out_dir: Path, dense: DenseConfig) -> int:
    """Encode the whole corpus into a FAISS IndexFlatIP in one job, streamed to disk; returns the document count."""
    encoder, offsets = Encoder(dense, bulk=True), line_offsets(corpus)
    blocks = _encoded(read_corpus(corpus), encoder, dense.passage_prefix, len(offsets))
    write_flat_index(out_dir / INDEX_FILE, encoder.dim, len(offsets), blocks)
    save_index_meta(out_dir, corpus, offsets, SETTINGS_FILE, to_dict(dense))
    return len(offsets)


def shard_rows(count: int, shard: int, shards: int) -> range:
    """The corpus rows of shard `shard` of `shards` (contiguous, in order, sizes differing by one at most)."""
    return range(count * shard // shards, count * (shard + 1) // shards)


def encode_shard(corpus: Path, shard: int, shards: int, out: Path, dense: DenseConfig) -> int:
    """Encode one shard's rows of the corpus to `out` (float32 .npy, written whole then renamed); the row count."""
    offsets = line_offsets(corpus)
    rows = shard_rows(len(offsets), shard, shards)
    store = DocStore(corpus, offsets)
    encoder = Encoder(dense, bulk=True)
    vectors = np.zeros((len(rows), encoder.dim), dtype=np.float32)
    done = 0
    for block in _encoded((store.get(row) for row in rows), encoder, dense.passage_prefix, len(rows)):
        vectors[done : done + len(block)] = block
        done += len(block)
    with atomic_open(out, "wb") as handle:
        np.save(handle, vectors)
    return len(rows)


def gather_dense_index(shards: list[Path], corpus: Path, out_dir: Path, dense: DenseConfig) -> int:
    """Join the shards' vectors, in shard order, into one IndexFlatIP (row i = corpus line i), streamed from the
    memory-mapped shards to disk (memory stays flat whatever the corpus size)."""
    parts = [np.load(path, mmap_mode="r") for path in shards]
    offsets, rows = line_offsets(corpus), sum(len(part) for part in parts)
    if not parts or rows != len(offsets):
        raise DataError(
            f"{corpus}: {len(offsets):,} documents but its {len(parts)} shard files hold "
            f"{rows:,} vectors; encode every shard of this corpus again"
        )
    blocks = (part[start : start + CHUNK] for part in parts for start in range(0, len(part), CHUNK))
    write_flat_index(out_dir / INDEX_FILE, parts[0].shape[1], rows, blocks)
    save_index_meta(out_dir, corpus, offsets, SETTINGS_FILE, to_dict(dense))
    return rows


def import_dense_index(parts: list[Path], corpus: Path, out_dir: Path, dense: DenseConfig) -> int:
    """Use a prebuilt FAISS index (upstream's e5 flat index, cut into parts) whose row i encodes corpus line i,
    without re-encoding; `dense` holds the encoder settings it was built with. Returns the row count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / INDEX_FILE, "wb") as target:
        for part in parts:  # in order: the parts are one file cut in pieces
            with part.open("rb") as source:
                shutil.copyfileobj(source, target, 1 << 24)
    rows = open_flat_index(out_dir / INDEX_FILE).ntotal
    offsets = line_offsets(corpus)
    if rows != len(offsets):
        raise DataError(
            f"{parts[0].parent}: the index has {rows:,} rows but {corpus} has {len(offsets):,} documents; "
            "an imported index must encode the corpus line by line (download both at one revision)"
        )
    save_index_meta(out_dir, corpus, offsets, SETTINGS_FILE, to_dict(dense))
    return rows


class DenseRanker:
    """Encode queries and search the flat IP index (`retriever.dense.search`: FAISS or torch, CPU or GPUs): the
    ranking half of dense retrieval, without the documents (a search process holds this alone)."""

    def __init__(self, index_dir: Path, dense: DenseConfig):
        built = json.loads((Path(index_dir) / SETTINGS_FILE).read_text())
        self.dense = replace(dense, **{key: built[key] for key in ENCODING_KEYS})  # the index's vectors' encoder
        self.encoder = Encoder(self.dense)
        self.index = open_flat_index(Path(index_dir) / INDEX_FILE)
        self.searcher = open_flat_search(self.index, dense.search)

    def encode(self, queries: list[str]) -> np.ndarray:
        return self.encoder.encode(queries, self.dense.query_prefix)

    def search_stream(self) -> AbstractContextManager:
        """Run this thread's searches on a CUDA stream of their own (a no-op on the CPU)."""
        device = self.encoder.device
        return torch.cuda.stream(torch.cuda.Stream(device)) if device.type == "cuda" else nullcontext()

    def search(self, vectors: np.ndarray, topk: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), best first; ids of -1 where the index has fewer than `topk` rows."""
        return self.searcher.search(vectors, min(topk, self.index.ntotal))


class DenseRetriever:
    """A DenseRanker in this process, documents from the store."""

    kind = "dense"

    def __init__(self, index_dir: Path, corpus: Path, dense: DenseConfig):
        self.ranker = DenseRanker(index_dir, dense)
        self.docs = DocStore.open(corpus, Path(index_dir))
        self.stats = StageStats()

    def __len__(self) -> int:
        return len(self.docs)

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]:
        started = time.perf_counter()
        vectors = self.ranker.encode(queries)
        encoded = time.perf_counter()
        scores, ids = self.ranker.search(vectors, topk)
        searched = time.perf_counter()
        hits = self.docs.ranked(scores, ids)
        self.stats.add(
            len(queries), encode=encoded - started, search=searched - encoded, documents=time.perf_counter() - searched
        )
        return hits

"""Dense ranking (query encoding + index search) in a process of its own, beside the HTTP server's.

In one process the server's event loop (HTTP, JSON) and the encoder's kernel launches share one interpreter lock,
and each slows the other down. Here a spawned process holds the DenseRanker; the server sends it batches of queries
and gets back (scores, ids). Inside, one thread encodes while another searches, so the encoding of batch n + 1
overlaps the search of batch n, and the batches encoded while a search ran are searched together: a scan of a
flat index costs about the same for 20 queries as for 60. Documents are still read in the server's process from
its memory-mapped store.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from s3core.config.sections import DenseConfig
from s3core.errors import ServiceError
from s3core.retrieval.base import Hit, StageStats
from s3core.retrieval.docstore import DocStore

Ranked = tuple[np.ndarray, np.ndarray, dict[str, float]]  # scores, ids, figures (seconds per stage, scans)


def _rank_batches(index_dir: Path, dense: DenseConfig, requests: Connection, results: Connection) -> None:
    """The search process: load the ranker, then encode (this thread) and search (a second thread) each batch of
    `requests` ((number, queries, topk); None ends), sending (number, scores, ids, figures) or (number, error);
    the batches encoded while a search ran are searched together."""
    from s3core.retrieval.dense import DenseRanker

    try:
        ranker = DenseRanker(index_dir, dense)
    except Exception:
        results.send(("failed", traceback.format_exc()))
        return
    results.send(("ready", None))
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            results.send(message)

    encoded: queue.Queue = queue.Queue(maxsize=ProcessDenseRetriever.in_flight)

    def search_loop() -> None:
        with ranker.search_stream():  # the scan does not hold up the next batch's encoder kernels
            while batches := _waiting_batches(encoded):
                _search_together(ranker, batches, send)

    searcher = threading.Thread(target=search_loop, name="search", daemon=True)
    searcher.start()
    while True:
        try:
            message = requests.recv()
        except EOFError:
            message = None
        if message is None:
            break
        number, queries, topk = message
        started = time.perf_counter()
        try:
            vectors = ranker.encode(queries)
        except Exception as exc:
            send((number, f"query encoding failed: {exc!r}"))
            continue
        encoded.put((number, vectors, topk, time.perf_counter() - started))
    encoded.put(None)
    searcher.join()


def _waiting_batches(encoded: queue.Queue) -> list[tuple]:
    """The next encoded batch and every one encoded behind it; [] at the end (None)."""
    if (first := encoded.get()) is None:
        return []
    batches = [first]
    while not encoded.empty():
        if (item := encoded.get()) is None:
            encoded.put(None)  # the end, once these are searched
            break
        batches.append(item)
    return batches


def _search_together(ranker: Any, batches: list[tuple], send: Callable[[tuple], None]) -> None:
    """One scan for every batch in `batches` ((number, vectors, topk, encode seconds)); each batch is sent its rows
    and its share of the scan."""
    vectors = np.concatenate([vectors for _, vectors, _, _ in batches])
    started = time.perf_counter()
    try:
        scores, ids = ranker.search(vectors, max(topk for _, _, topk, _ in batches))
    except Exception as exc:
        for number, *_ in batches:
            send((number, f"search failed: {exc!r}"))
        return
    per_query = (time.perf_counter() - started) / len(vectors)
    at = 0
    for number, batch, topk, encode_s in batches:
        share = len(batch) / len(vectors)
        figures = {"encode": encode_s, "search": per_query * len(batch), "scans": share}
        send((number, scores[at : at + len(batch), :topk], ids[at : at + len(batch), :topk], figures))
        at += len(batch)


class SearchProcess:
    """The client side of a search process: `rank` sends a batch and returns a Future of (scores, ids, figures)."""

    def __init__(self, index_dir: Path, dense: DenseConfig, startup_timeout_s: float):
        context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
        requests_out, self._requests = context.Pipe(duplex=False)
        self._results, results_in = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_rank_batches,
            args=(Path(index_dir), dense, requests_out, results_in),
            name="s3-search",
            daemon=True,
        )
        self.process.start()
        requests_out.close()
        results_in.close()
        self.failure: str | None = None
        self._wait_ready(startup_timeout_s)
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._number = 0
        self._reader = threading.Thread(target=self._read_results, name="search-results", daemon=True)
        self._reader.start()

    def _wait_ready(self, timeout_s: float) -> None:
        if not self._results.poll(timeout_s):
            self.close()
            raise ServiceError(
                f"the search process did not load its index within {timeout_s:.0f} s "
                "(retriever.server.startup_timeout_s)"
            )
        try:
            status, detail = self._results.recv()
        except EOFError:
            self.process.join(5)
            status, detail = "failed", f"it exited with code {self.process.exitcode}"
        if status != "ready":
            self.close()
            raise ServiceError(f"the search process could not load the dense index:\n{detail}")

    def rank(self, queries: list[str], topk: int) -> Future:
        future: Future = Future()
        with self._lock:
            if self.failure:
                raise ServiceError(self.failure)
            self._number += 1
            self._pending[self._number] = future
            self._requests.send((self._number, queries, topk))
        return future

    def _read_results(self) -> None:
        while True:
            try:
                number, *result = self._results.recv()
            except (EOFError, OSError):
                break
            future = self._pending.pop(number)
            if len(result) == 1:
                future.set_exception(ServiceError(result[0]))
            else:
                future.set_result(tuple(result))
        self.process.join(5)
        with self._lock:
            self.failure = self.failure or (
                f"the search process (pid {self.process.pid}) exited with code "
                f"{self.process.exitcode}; see the server log above"
            )
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(ServiceError(self.failure))

    def close(self) -> None:
        """End the process: it finishes the batches it holds, then exits (killed after 10 s)."""
        if self.failure is None:
            self.failure = "the retriever is shutting down"
        try:
            self._requests.send(None)
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ProcessDenseRetriever:
    """Dense retrieval whose ranking runs in a SearchProcess (`search_async` keeps several batches in flight);
    documents come from this process's store."""

    kind = "dense"
    in_flight = 3  # batches encoded while the one before them is searched; those waiting are searched together

    def __init__(self, index_dir: Path, corpus: Path, dense: DenseConfig, startup_timeout_s: float):
        self.docs = DocStore.open(corpus, Path(index_dir))
        self.stats = StageStats()
        self.ranker = SearchProcess(index_dir, dense, startup_timeout_s)

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def failure(self) -> str | None:
        return self.ranker.failure

    async def search_async(self, queries: list[str], topk: int) -> list[list[Hit]]:
        scores, ids, figures = await asyncio.wrap_future(self.ranker.rank(queries, topk))
        return await asyncio.to_thread(self._documents, queries, scores, ids, figures)

    def search(self, queries: list[str], topk: int) -> list[list[Hit]]:
        return self._documents(queries, *self.ranker.rank(queries, topk).result())

    def _documents(
        self, queries: list[str], scores: np.ndarray, ids: np.ndarray, figures: dict[str, float]
    ) -> list[list[Hit]]:
        started = time.perf_counter()
        hits = self.docs.ranked(scores, ids)
        self.stats.add(len(queries), **figures, documents=time.perf_counter() - started)
        return hits

    def close(self) -> None:
        self.ranker.close()

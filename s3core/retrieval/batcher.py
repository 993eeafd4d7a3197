"""Cross-request dynamic batching: requests that arrive while batches run are searched together next (the retriever
server's searches; the searcher server's generation batches too)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from s3core.retrieval.base import Hit

Item = TypeVar("Item")
Row = TypeVar("Row")
SearchFn = Callable[[list[str], int], Awaitable[list[list[Hit]]]]
#: A batch of items and their limit (a search's topk, a generation's token budget) -> one row per item
BatchFn = Callable[[list[Item], int], Awaitable[list[Row]]]


@dataclass
class _Pending(Generic[Item]):
    queries: list[Item]
    topk: int
    future: asyncio.Future = field(repr=False)


class DynamicBatcher(Generic[Item, Row]):
    """Each round takes the waiting requests (until `max_batch` queries are reached), runs one search with the
    largest topk among them, and hands each request its slice, each row cut to the request's own topk (`cut`; off
    for rows that are no list of ranked hits); at most `in_flight` searches run at once (more than one only pays
    where the search is pipelined, as in a search process)."""

    def __init__(self, search: BatchFn[Item, Row], max_batch: int, in_flight: int = 1, cut: bool = True):
        self.search = search
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.cut = cut
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def submit(self, queries: list[Item], topk: int) -> list[Row]:
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(queries, topk, future))
        return await future

    def _take_batch(self, first: _Pending) -> list[_Pending]:
        batch, size = [first], len(first.queries)
        while size < self.max_batch and not self._queue.empty():
            item = self._queue.get_nowait()
            batch.append(item)
            size += len(item.queries)
        return batch

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        running: set[asyncio.Task] = set()

        def finished(task: asyncio.Task) -> None:
            running.discard(task)
            slots.release()

        try:
            while True:
                await slots.acquire()  # requests pile up meanwhile, and go out as one batch
                batch = self._take_batch(await self._queue.get())
                task = asyncio.create_task(self._answer(batch))
                running.add(task)
                task.add_done_callback(finished)
        finally:
            for task in running:
                task.cancel()

    async def _answer(self, batch: list[_Pending]) -> None:
        queries = [q for item in batch for q in item.queries]
        try:
            hits = await self.search(queries, max(item.topk for item in batch))
        except Exception as exc:  # every waiting request gets the error
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        start = 0
        for item in batch:
            part = hits[start : start + len(item.queries)]
            start += len(item.queries)
            if not item.future.done():
                item.future.set_result([self._cut(row, item.topk) for row in part])

    def _cut(self, row: Any, topk: int) -> Any:
        return row[:topk] if self.cut else row

"""Cross-request dynamic batching: requests that arrive while batches run are searched together next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from s3core.retrieval.base import Hit

SearchFn = Callable[[list[str], int], Awaitable[list[list[Hit]]]]


@dataclass
class _Pending:
    queries: list[str]
    topk: int
    future: asyncio.Future = field(repr=False)


class DynamicBatcher:
    """Each round takes the waiting requests (until `max_batch` queries are reached), runs one search with the
    largest topk among them, and hands each request its slice; at most `in_flight` searches run at once (more than
    one only pays where the search is pipelined, as in a search process)."""

    def __init__(self, search: SearchFn, max_batch: int, in_flight: int = 1):
        self.search = search
        self.max_batch = max_batch
        self.in_flight = in_flight
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def submit(self, queries: list[str], topk: int) -> list[list[Hit]]:
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
                item.future.set_result([row[: item.topk] for row in part])

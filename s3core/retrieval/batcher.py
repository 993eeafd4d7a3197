"""Cross-request dynamic batching: requests that arrive while a batch runs are searched together next."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from s3core.retrieval.base import Hit

SearchFn = Callable[[list[str], int], list[list[Hit]]]


@dataclass
class _Pending:
    queries: list[str]
    topk: int
    future: asyncio.Future = field(repr=False)


class DynamicBatcher:
    """Feeds one worker thread: each round takes the waiting requests (until `max_batch` queries are
    reached), runs one search with the largest topk among them, and hands each request its slice."""

    def __init__(self, search: SearchFn, max_batch: int):
        self.search = search
        self.max_batch = max_batch
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
        while True:
            batch = self._take_batch(await self._queue.get())
            queries = [q for item in batch for q in item.queries]
            try:
                hits = await asyncio.to_thread(self.search, queries, max(item.topk for item in batch))
            except Exception as exc:  # every waiting request gets the error
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            start = 0
            for item in batch:
                part = hits[start : start + len(item.queries)]
                start += len(item.queries)
                if not item.future.done():
                    item.future.set_result([row[: item.topk] for row in part])

"""The query encoder's forward pass replayed from CUDA graphs, one per (batch, length) bucket.

A BERT-base forward pass is a few hundred small kernels. Launched one by one from Python they take ~5 ms of host
time per batch, and in a server whose event loop shares the interpreter lock that time doubles or triples. A CUDA
graph launches them all at once. Graphs have fixed shapes, so a batch is padded to the next bucket: rows to a
power of two, tokens to a power of two (at least 16), padding masked out as the tokenizer's own padding is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from torch.cuda import _POOL_HANDLE  # what CUDAGraph.pool() returns

Embed = Callable[[dict[str, torch.Tensor]], torch.Tensor]  # tokens on the device -> unit vectors (rows, dim)
MIN_LENGTH = 16


def buckets(largest: int, smallest: int = 1) -> list[int]:
    """Powers of two from `smallest` up to the first one >= `largest` (the largest bucket is `largest` itself)."""
    sizes = [smallest]
    while sizes[-1] < largest:
        sizes.append(sizes[-1] * 2)
    sizes[-1] = max(largest, smallest)
    return sizes


def bucket_of(size: int, sizes: list[int]) -> int:
    return next(bucket for bucket in sizes if bucket >= size)


def pad_tokens(tokens: dict[str, np.ndarray], rows: int, length: int) -> dict[str, np.ndarray]:
    """Tokens padded to (rows, length) with zeros; a padding row attends to its first token alone, so that its
    (discarded) vector stays finite."""
    padded = {}
    for name, array in tokens.items():
        padded[name] = np.zeros((rows, length), dtype=array.dtype)
        padded[name][: array.shape[0], : array.shape[1]] = array
    padded["attention_mask"][tokens["attention_mask"].shape[0] :, 0] = 1
    return padded


class EncoderGraphs:
    """`embed` captured once per bucket on `device` (at construction: capturing while another thread searches on the
    GPU would be unsafe). Replays run on a stream of the highest priority, so that a search scanning the index on
    another stream does not hold them up, and one at a time: the graphs share one memory pool."""

    def __init__(self, embed: Embed, names: list[str], device: torch.device, max_rows: int, max_length: int):
        self.rows, self.lengths = buckets(max_rows), buckets(max_length, MIN_LENGTH)
        self.device = device
        self._stream = torch.cuda.Stream(device, priority=-100)  # mapped to the highest priority there is
        self._lock = threading.Lock()
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, dict[str, torch.Tensor], torch.Tensor]] = {}
        pool: _POOL_HANDLE | None = None
        for rows in reversed(self.rows):  # the largest first: the pool is sized once
            for length in reversed(self.lengths):
                graph, inputs, output = self._capture(embed, names, rows, length, pool)
                pool = pool or graph.pool()
                self._graphs[rows, length] = graph, inputs, output

    def _capture(
        self, embed: Embed, names: list[str], rows: int, length: int, pool: _POOL_HANDLE | None
    ) -> tuple[torch.cuda.CUDAGraph, dict[str, torch.Tensor], torch.Tensor]:
        tokens = {name: np.zeros((0, length), dtype=np.int64) for name in names}
        inputs = {
            name: torch.from_numpy(array).to(self.device) for name, array in pad_tokens(tokens, rows, length).items()
        }
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up outside the graph (cuBLAS handles, lazy inits)
            embed(inputs)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            output = embed(inputs)
        return graph, inputs, output

    def __call__(self, tokens: dict[str, np.ndarray]) -> torch.Tensor:
        """Unit vectors of one tokenised batch (float32, in host memory); the batch must fit the largest bucket."""
        count, length = tokens["input_ids"].shape
        key = bucket_of(count, self.rows), bucket_of(length, self.lengths)
        graph, inputs, output = self._graphs[key]
        padded = pad_tokens(tokens, *key)
        with self._lock, torch.cuda.stream(self._stream):
            for name, static in inputs.items():
                static.copy_(torch.from_numpy(padded[name]))
            graph.replay()
            return output[:count].cpu()

"""Exact inner-product search over a flat index's vectors, on whatever the job has (`retriever.dense.search`):

- `faiss`: FAISS's own search (CPU, or every GPU with faiss-gpu: the index sharded over them in fp16, as upstream);
- `torch`: matmul + top-k with torch, the rows sharded over the job's GPUs (fp16) or on the CPU (fp32), each shard
  scanned in chunks and the shards' top-k merged; the same top-k as FAISS on the same vectors;
- `auto`: faiss-gpu where FAISS sees GPUs, else torch where torch sees them, else FAISS on the CPU.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import faiss
import numpy as np
import torch

CHUNK_ROWS = 1 << 21  # rows scored at a time per shard: a 2M x 768 fp16 block is 3 GB
GROUP = 1024  # columns per group in exact_topk's first pass


class FlatSearch(Protocol):
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


def flat_vectors(index: Any) -> np.ndarray:
    """The (ntotal, d) float32 rows of a FAISS IndexFlat, without a copy (valid while `index` lives)."""
    flat = cast(faiss.IndexFlat, faiss.downcast_index(index))
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def open_flat_search(index: Any, mode: str) -> FlatSearch:
    """The searcher `mode` names (auto: the fastest one this job can run)."""
    if mode == "auto":
        mode = "torch" if torch.cuda.is_available() and not _faiss_gpus() else "faiss"
    if mode == "torch":
        devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())] or [torch.device("cpu")]
        return TorchFlatSearch.from_vectors(flat_vectors(index), devices)
    if _faiss_gpus():
        options = faiss.GpuMultipleClonerOptions()
        options.shard, options.useFloat16 = True, True
        return faiss.index_cpu_to_all_gpus(index, co=options)
    return index


def _faiss_gpus() -> int:
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


class TorchFlatSearch:
    """The rows split into one contiguous shard per device (fp16 on GPUs, fp32 on the CPU); a query batch is scored
    against each shard in chunks, top-k kept per chunk, then merged across chunks and shards."""

    def __init__(self, shards: list[tuple[int, torch.Tensor]], chunk_rows: int = CHUNK_ROWS):
        """`shards`: (first row, rows) per device, covering the index in order."""
        self.shards, self.chunk_rows = shards, chunk_rows
        self.ntotal = sum(len(rows) for _, rows in shards)

    @classmethod
    def from_vectors(
        cls, vectors: np.ndarray, devices: list[torch.device], chunk_rows: int = CHUNK_ROWS
    ) -> TorchFlatSearch:
        """Copy the rows to the devices, a chunk at a time (host memory never doubles)."""
        bounds = np.linspace(0, len(vectors), len(devices) + 1).astype(int)
        shards = []
        for start, end, device in zip(bounds[:-1], bounds[1:], devices):
            dtype = torch.float16 if device.type == "cuda" else torch.float32
            rows = torch.empty((end - start, vectors.shape[1]), dtype=dtype, device=device)
            for at in range(start, end, chunk_rows):
                block = torch.from_numpy(np.ascontiguousarray(vectors[at : min(at + chunk_rows, end)]))
                rows[at - start : at - start + len(block)] = block.to(device, dtype)
            shards.append((int(start), rows))
        return cls([shard for shard in shards if len(shard[1])], chunk_rows)

    @torch.inference_mode()
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best rows per query, best first, as FAISS returns them (float32, int64). Every
        shard's work is queued before any result is read, so the GPUs scan side by side."""
        k = min(k, self.ntotal)
        host = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
        pending = [self._shard_top(host, offset, shard, k) for offset, shard in self.shards]
        scores = torch.cat([s.cpu() for s, _ in pending], dim=1)
        ids = torch.cat([i.cpu() for _, i in pending], dim=1)
        top = torch.topk(scores, k, dim=1)
        return top.values.numpy(), torch.gather(ids, 1, top.indices).numpy().astype(np.int64)

    def _shard_top(
        self, queries: torch.Tensor, offset: int, shard: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shard's k best (scores, global ids), on the shard's device."""
        q = queries.to(shard.device, shard.dtype, non_blocking=True)
        chunk_scores, chunk_ids = [], []
        for start in range(0, len(shard), self.chunk_rows):
            chunk = shard[start : start + self.chunk_rows]
            values, indices = exact_topk(q @ chunk.T, min(k, len(chunk)))
            chunk_scores.append(values.float())
            chunk_ids.append(indices + (offset + start))
        scores, ids = torch.cat(chunk_scores, dim=1), torch.cat(chunk_ids, dim=1)
        top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        return top.values, torch.gather(ids, 1, top.indices)


def exact_topk(scores: torch.Tensor, k: int, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk(scores, k, dim=1) for wide rows, in two cheap passes: each row's columns in groups of `group`,
    the k groups with the highest maxima (the k best values lie in them: a group outside them is beaten by k groups
    each holding a higher value), then the top k of those groups' columns. On an H200, torch.topk over a
    (64, 2M) fp16 block costs more than the matmul that produced it; a max per group costs one read."""
    rows, width = scores.shape
    whole = width // group * group
    if whole < 4 * k * group:
        return torch.topk(scores, k, dim=1)
    maxima = scores[:, :whole].view(rows, whole // group, group).amax(dim=2)
    groups = torch.topk(maxima, k, dim=1).indices
    columns = (groups.unsqueeze(2) * group + torch.arange(group, device=scores.device)).view(rows, k * group)
    tail = torch.arange(whole, width, device=scores.device).expand(rows, width - whole)
    columns = torch.cat([columns, tail], dim=1)
    top = torch.topk(torch.gather(scores, 1, columns), k, dim=1)
    return top.values, torch.gather(columns, 1, top.indices)

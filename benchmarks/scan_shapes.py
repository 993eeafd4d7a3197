"""The exact scan's cost by batch size over wiki-18's shape (21,015,324 x 768 fp16) on a GPU, in one run: the scores
alone (the chunked matmul, no top-k: the floor), the scan with torch.topk per chunk (the obvious way), and s3core's
scan with exact_topk (one max per group of columns, then top-k over the best groups), with the group size varied.

Run (GPU machine): python benchmarks/scan_shapes.py
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import pandas as pd
import torch
from gpu_retrieval import DIM, WIKI18_ROWS

from s3core.retrieval.flat_search import CHUNK_ROWS, GROUP, exact_topk

BATCHES = [1, 8, 16, 20, 24, 32, 48, 64, 128, 512]
GROUPS = [256, GROUP, 4096]


def cuda_ms(step, repeat: int) -> float:
    """Median milliseconds of `step()` over `repeat` runs after two warm-up runs (CUDA events)."""
    for _ in range(2):
        step()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


@torch.inference_mode()
def scan(rows: torch.Tensor, queries: torch.Tensor, top) -> None:
    """One pass over `rows` in chunks, `top(scores)` applied to each chunk's scores."""
    for at in range(0, len(rows), CHUNK_ROWS):
        top(queries @ rows[at : at + CHUNK_ROWS].T)


def measure(rows: torch.Tensor, batch: int, k: int, repeat: int) -> dict:
    """Milliseconds per scan at `batch`: the scores alone, with torch.topk, with exact_topk per group size."""
    queries = torch.randn(batch, DIM, dtype=torch.float16, device="cuda")
    tops = {
        "scores only": lambda scores: scores,
        "torch.topk": partial(torch.topk, k=k, dim=1),
        **{f"exact_topk/{group}": partial(exact_topk, k=k, group=group) for group in GROUPS},
    }
    return {
        "batch": batch,
        **{f"{name} ms": cuda_ms(partial(scan, rows, queries, top), repeat) for name, top in tops.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=WIKI18_ROWS)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--topk", type=int, default=3)
    args = parser.parse_args()
    rows = torch.empty((args.rows, DIM), dtype=torch.float16, device="cuda")
    for at in range(0, args.rows, CHUNK_ROWS):
        rows[at : at + CHUNK_ROWS].normal_()
    out = [measure(rows, batch, args.topk, args.repeat) for batch in BATCHES]
    table = pd.DataFrame(out)
    table["torch.topk / scores only"] = table["torch.topk ms"] / table["scores only ms"]
    table["exact_topk / scores only"] = table[f"exact_topk/{GROUP} ms"] / table["scores only ms"]
    table["exact_topk q/s"] = table["batch"] / table[f"exact_topk/{GROUP} ms"] * 1e3
    print(f"{torch.cuda.get_device_name(0)}; {args.rows:,} x {DIM} fp16 in chunks of {CHUNK_ROWS:,}; top-{args.topk}\n")
    print(table.round(2).to_markdown(index=False))


if __name__ == "__main__":
    main()

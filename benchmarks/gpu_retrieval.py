"""Paper-scale retrieval on a GPU, ours beside the limit, measured in the same run:

1. encoding passages: s3core's Encoder on real passages (their own lengths, tokenised by it, fp16, batch 512)
   against the same encoder's forward pass on pre-tokenised ids at length 256 (the ceiling when the feed keeps up);
2. exact top-10 search over 21,015,324 x 768 fp16 vectors (wiki-18's e5 index): s3core's TorchFlatSearch against
   the scores alone (one matmul of the queries with every row, no top-k: what any exact search must do) and the time
   to read the vectors once (the memory-bandwidth floor), at batch 1, 64 and 512; and FAISS on the CPU's cores over a
   part of it, scaled to the whole.

The encoder is e5-base-v2's architecture (BERT-base) with seeded random weights built from a tokenizer folder (speed
does not depend on the weights); the corpus is repeated to --passages.

Run (GPU machine): python benchmarks/gpu_retrieval.py --corpus CORPUS.jsonl --tokenizer DIR
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from dense_index_gpu import dense_config, random_bert_base

from s3core.retrieval.dense import Encoder
from s3core.retrieval.flat_search import TorchFlatSearch

WIKI18_ROWS, DIM, TOPK = 21_015_324, 768, 10


def cuda_seconds(step, repeat: int) -> float:
    """Mean seconds of `step()` over `repeat` runs after two warm-up runs, the GPU synchronised."""
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def encoding(encoder_dir: Path, texts: list[str]) -> list[dict]:
    """Passages/s of the bare forward pass at length 256 and of Encoder.encode on `texts`."""
    encoder = Encoder(dense_config(encoder_dir, "cuda", True, 512), bulk=True)
    ids = torch.randint(1000, 20000, (512, 256), device="cuda")
    mask = torch.ones_like(ids)

    @torch.inference_mode()
    def forward():
        encoder.model(input_ids=ids, attention_mask=mask)

    ceiling = 512 / cuda_seconds(forward, 20)
    encoder.encode(texts[:4096], "passage: ")
    torch.cuda.synchronize()
    start = time.perf_counter()
    encoder.encode(texts, "passage: ")
    ours = len(texts) / (time.perf_counter() - start)
    tokens = np.mean(
        [len(encoder.tokenizer("passage: " + t, truncation=True, max_length=256)["input_ids"]) for t in texts[:2000]]
    )
    return [
        {"what": "encoder forward, pre-tokenised ids, length 256 (ceiling)", "passages/s": ceiling},
        {
            "what": f"s3core Encoder.encode, {len(texts):,} real passages (mean {tokens:.0f} tokens)",
            "passages/s": ours,
            "of ceiling": ours / ceiling,
        },
    ]


def search(batches: list[int], faiss_rows: int) -> list[dict]:
    """Queries/s of a bare scan and of TorchFlatSearch over wiki-18-sized fp16 vectors; FAISS on the CPU."""
    torch.manual_seed(0)
    vectors = torch.empty((WIKI18_ROWS, DIM), dtype=torch.float16, device="cuda")
    for start in range(0, WIKI18_ROWS, 1 << 21):
        block = torch.randn((min(1 << 21, WIKI18_ROWS - start), DIM), device="cuda")
        vectors[start : start + len(block)] = torch.nn.functional.normalize(block, dim=-1).half()
    ours = TorchFlatSearch([(0, vectors)])
    read_s = cuda_seconds(lambda: vectors.view(torch.int16).max(), 10)  # reading every byte once
    rows = []
    for batch in batches:
        queries = torch.nn.functional.normalize(torch.randn(batch, DIM), dim=-1)
        on_gpu = queries.cuda().half()

        @torch.inference_mode()
        def scores_only(on_gpu=on_gpu):
            on_gpu @ vectors.T

        floor_s = cuda_seconds(scores_only, 10)
        ours_s = cuda_seconds(lambda queries=queries: ours.search(queries.numpy(), TOPK), 10)
        rows.append(
            {
                "batch": batch,
                "read floor ms": read_s * 1e3,
                "scores only ms": floor_s * 1e3,
                "scores only q/s": batch / floor_s,
                "TorchFlatSearch ms": ours_s * 1e3,
                "TorchFlatSearch q/s": batch / ours_s,
                "ours / scores only": ours_s / floor_s,
            }
        )
    rows.append(faiss_cpu(vectors[:faiss_rows].float().cpu().numpy(), 64))
    return rows


def faiss_cpu(part: np.ndarray, batch: int) -> dict:
    """FAISS IndexFlatIP on the CPU over `part`, one batch, scaled linearly to wiki-18's rows."""
    import faiss

    index = faiss.IndexFlatIP(DIM)
    index.add(part)
    queries = np.ascontiguousarray(part[:batch])
    index.search(queries, TOPK)
    start = time.perf_counter()
    index.search(queries, TOPK)
    seconds = (time.perf_counter() - start) * WIKI18_ROWS / len(part)
    return {
        "batch": batch,
        "faiss-cpu ms (scaled to 21M)": seconds * 1e3,
        "faiss-cpu q/s": batch / seconds,
        "faiss threads": faiss.omp_get_max_threads(),
        "faiss rows": len(part),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--faiss-rows", type=int, default=2_000_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gpu-retrieval-"))
    encoder = random_bert_base(args.tokenizer, work / "encoder")
    contents = [json.loads(line)["contents"] for line in args.corpus.read_text().splitlines() if line.strip()]
    texts = (contents * (args.passages // len(contents) + 1))[: args.passages]
    print(f"{torch.cuda.get_device_name(0)}; torch {torch.__version__}\n")
    print("Encoding (BERT-base, fp16, batch 512)\n")
    print(pd.DataFrame(encoding(encoder, texts)).round(3).to_markdown(index=False))
    print(f"\nExact top-{TOPK} search over {WIKI18_ROWS:,} x {DIM} fp16 vectors\n")
    print(pd.DataFrame(search([1, 64, 512], args.faiss_rows)).round(2).to_markdown(index=False))


if __name__ == "__main__":
    main()

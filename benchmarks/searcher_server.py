"""Searcher server throughput: questions/s through `s3core serve --kind searcher` with N concurrent clients (one
question per request) beside the same s3 loop run in-process on the same questions as one batch.

The demo LLM (SmolLM2-135M, transformers, greedy) searches in-process BM25 over 2,000 Wikipedia lead sections with
the demo's loop budget (1 turn + the extra search round, 32 tokens a turn, top-3); no generator, so both sides do
the same work: the loop alone. Also says whether the server selected the same documents as the in-process loop.

Run: .venv/bin/python benchmarks/searcher_server.py   (needs results/.test-cache/llm: the tests' converted LLM)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, bm25_search, print_table, qa_rows, wiki_corpus, write_corpus

from s3core.config.sections import parse
from s3core.search.hf_policy import load_policy
from s3core.search.rollout import play
from s3core.serving.sidecar import Sidecar

SEARCH = {"retriever": "bm25", "topk": 3, "max_turns": 1, "max_new_tokens": 32, "max_obs_tokens": 128}


def in_process(model: str, corpus: Path, work: Path, questions: list[dict], threads: int) -> tuple[float, list]:
    """Seconds for the loop over all questions as one batch, and each question's selected documents."""
    import torch

    torch.set_num_threads(threads)
    searcher = parse("searcher", {"model": model, "device": "cpu", "batch_size": len(questions)})
    policy, search, config = load_policy(searcher), bm25_search(corpus, work), parse("search", SEARCH)
    initial = search([q["question"] for q in questions], config.initial_topk)
    began = time.perf_counter()
    episodes = play(questions, initial, policy, search, config, 0.0)
    return time.perf_counter() - began, [[d.to_dict() for d in e.selected_docs()] for e in episodes]


def served(model: str, corpus: Path, work: Path, questions: list[str], clients: int, threads: int) -> tuple:
    """Seconds for `clients` concurrent clients to send every question (one per request), the documents, and how
    many generation batches the server ran for them."""
    config = {"search": SEARCH, "searcher": {"model": model, "device": "cpu", "batch_size": len(questions)}}
    command = [sys.executable, "-m", "s3core.cli", "--threads", str(threads), "serve", "--kind", "searcher"]
    command += ["--index", str(work / "bm25"), "--corpus", str(corpus), "--config", json.dumps(config)]
    with Sidecar([*command, "--port", "{port}"], work / "searcher-server.log", startup_timeout_s=300) as server:
        with httpx.Client(timeout=600) as http:

            def ask(question: str) -> list:
                response = http.post(f"{server.url}/search", json={"question": question})
                response.raise_for_status()
                return response.json()["results"][0]["docs"]

            ask(questions[0])  # warm-up
            before = http.get(f"{server.url}/stats").json()["generate_batches"]
            began = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                docs = list(pool.map(ask, questions))
            seconds = time.perf_counter() - began
            return seconds, docs, http.get(f"{server.url}/stats").json()["generate_batches"] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="results/.test-cache/llm", help="searcher folder (the demo LLM)")
    parser.add_argument("--questions", type=int, default=16, help="distinct NQ-dev questions")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 4], help="concurrent clients per run")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads, in-process and in the server")
    args = parser.parse_args()

    corpus = write_corpus(wiki_corpus(2000), WORK / "rollout-corpus.jsonl")
    work = WORK / f"searcher-server-{corpus.stem}"
    items = qa_rows(None, args.questions)
    local_s, local_docs = in_process(args.model, corpus, work, items, args.threads)
    rounds = parse("search", SEARCH).rounds + 1
    rows = [[f"in-process, one batch of {len(items)}", len(items) / local_s, 1.0, f"<= {rounds}", "-"]]
    for clients in args.clients:
        seconds, docs, batches = served(args.model, corpus, work, [q["question"] for q in items], clients, args.threads)
        same = sum(a == b for a, b in zip(docs, local_docs))
        rows.append([f"server, {clients} clients", len(items) / seconds, local_s / seconds, batches, same])
    print_table(
        f"Searcher server: {Path(args.model).name} on CPU ({args.threads} threads), {len(items)} questions, "
        "1 turn + extra search round, 32 tokens a turn, BM25 top-3, greedy",
        ["mode", "questions/s", "ratio to in-process", "generation batches", f"same documents (of {len(items)})"],
        rows,
    )


if __name__ == "__main__":
    main()

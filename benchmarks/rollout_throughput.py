"""Rollout throughput of the s3 episode loop: all episodes batched per turn vs one episode at a time.

Same questions, same initial documents, greedy decoding (so both modes do the same work), in-process BM25 over the
demo's Wikipedia corpus. Reports generated (trained) tokens per second and the ratio.

    python benchmarks/rollout_throughput.py                                   # demo LLM on CPU
    python benchmarks/rollout_throughput.py --shape qwen2.5-0.5b --device cuda --tokenizer <dir>  # random weights
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import WORK, bm25_search, print_table, qa_rows, random_model, wiki_corpus, write_corpus

from s3core.config.sections import SearchConfig, parse
from s3core.search.hf_policy import HFPolicy, load_tokenizer
from s3core.search.rollout import play

SEARCH = {
    "retriever": "bm25",
    "initial_topk": 3,
    "topk": 3,
    "max_selected": 3,
    "max_turns": 1,
    "extra_search_round": True,
    "max_obs_tokens": 512,
    "max_context_tokens": 8192,
    "temperature": 0.0,
}


def run(
    policy: HFPolicy, batch: int, items: list[dict], initial: list, search, search_config: SearchConfig
) -> tuple[float, int]:
    """Seconds and generated tokens for all items, `batch` episodes at a time."""
    policy.batch_size = batch
    began = time.perf_counter()
    tokens = 0
    for start in range(0, len(items), batch):
        episodes = play(
            items[start : start + batch], initial[start : start + batch], policy, search, search_config, 0.0
        )
        tokens += sum(sum(e.action_mask) for e in episodes)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - began, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="results/.test-cache/llm", help="searcher folder (demo LLM)")
    parser.add_argument("--shape", choices=["smollm2-135m", "qwen2.5-0.5b"], help="random weights of this shape")
    parser.add_argument("--tokenizer", default="results/.test-cache/llm", help="tokenizer for --shape")
    parser.add_argument("--corpus", type=Path, help="corpus JSONL (default: 2,000 demo Wikipedia leads)")
    parser.add_argument("--qa", type=Path, help="QA JSONL (default: NQ-dev from the pyserini jar)")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    corpus = args.corpus or write_corpus(wiki_corpus(2000), WORK / "rollout-corpus.jsonl")
    search = bm25_search(corpus, WORK / f"rollout-{corpus.stem}")
    model_dir = (
        random_model(args.shape, Path(args.tokenizer), WORK / f"random-{args.shape}") if args.shape else args.model
    )
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device).eval()
    policy = HFPolicy(model, load_tokenizer(str(model_dir)), args.questions)
    items = qa_rows(args.qa, args.questions)
    initial = search([i["question"] for i in items], SEARCH["initial_topk"])
    search_config = parse("search", {**SEARCH, "max_new_tokens": args.max_new_tokens})
    run(policy, args.questions, items[:2], initial[:2], search, search_config)  # warm-up
    batched_s, batched_tokens = run(policy, args.questions, items, initial, search, search_config)
    single_s, single_tokens = run(policy, 1, items, initial, search, search_config)
    name = args.shape or Path(args.model).name
    rows = [
        [
            "batched (all episodes per turn)",
            batched_tokens,
            batched_s,
            batched_tokens / batched_s,
            (batched_tokens / batched_s) / (single_tokens / single_s),
        ],
        ["one episode at a time", single_tokens, single_s, single_tokens / single_s, 1.0],
    ]
    print_table(
        f"Rollout throughput: {name} on {args.device}, {args.questions} episodes, "
        f"{args.max_new_tokens} new tokens per turn, greedy",
        ["mode", "generated tokens", "seconds", "tokens/s", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()

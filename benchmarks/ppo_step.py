"""PPO step time and rollout speed of the local trainer (`s3core train`'s engine) on one device.

A randomly initialised searcher of a given shape (weights do not matter for speed) runs real s3 episodes
(paper prompt, 8-3-3 loop, in-process BM25 over the demo Wikipedia corpus); the same random model is the
frozen generator that answers, GenAcc is the span check (judge off). A random model rarely closes its tags, so
every turn runs to `--max-new-tokens`: this measures the loop at its token budget. Step 1 includes warm-up.

    python benchmarks/ppo_step.py --shape smollm2-135m --device cuda --qa <jsonl> --corpus <jsonl>
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import WORK, bm25_search, print_table, qa_rows, random_model, wiki_corpus, write_corpus

from s3core.config.sections import parse
from s3core.config.training_fingerprint import fingerprint
from s3core.generation import load_generator
from s3core.train.environment import S3Environment
from s3core.train.loop import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=["smollm2-135m", "qwen2.5-0.5b"], required=True)
    parser.add_argument("--tokenizer", default="results/.test-cache/llm")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--qa", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="questions per PPO step")
    parser.add_argument("--mini-batch", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    args = parser.parse_args()

    corpus = args.corpus or write_corpus(wiki_corpus(2000), WORK / "rollout-corpus.jsonl")
    search = bm25_search(corpus, WORK / f"rollout-{corpus.stem}")
    model = str(random_model(args.shape, Path(args.tokenizer), WORK / f"random-{args.shape}"))
    items = qa_rows(args.qa, args.batch * args.steps)
    hits = search([row["question"] for row in items], 3)
    pool = [{**row, "docs": [d.to_dict() for d in docs], "genacc": 0.0} for row, docs in zip(items, hits)]
    search_config = parse("search", {"retriever": "bm25", "max_new_tokens": args.max_new_tokens})
    generator = load_generator(
        "random",
        parse(
            "generators", {"random": {"backend": "hf", "model": model, "device": args.device, "batch_size": args.batch}}
        )["random"],
    )
    environment = S3Environment(search, generator, None, search_config, parse("reward", {}))
    train_config = parse(
        "train",
        {
            "steps": args.steps,
            "batch_size": args.batch,
            "mini_batch_size": args.mini_batch,
            "micro_batch_size": args.micro_batch,
            "checkpoint_every": 1000,
        },
    )
    searcher = parse("searcher", {"model": model, "device": args.device, "batch_size": args.batch})
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as out:
        shaping = fingerprint(train_config, search_config, environment.reward, model, pool)
        rows = train(pool, environment, model, Path(out), train_config, searcher, search_config.temperature, shaping)
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    table = [
        [
            r["step"],
            r["rollout_s"],
            r["update_s"],
            r["rollout_s"] + r["update_s"],
            r["sequence_tokens"],
            r["response_tokens"],
            r["rollout_tokens_per_s"],
            r["update_tokens_per_s"],
        ]
        for r in rows
    ]
    print_table(
        f"PPO on {args.device}: random {args.shape}, {args.batch} questions/step, mini-batch "
        f"{args.mini_batch}, {args.max_new_tokens} new tokens/turn, 8-3-3 (5 turns max); peak GPU memory "
        f"{peak:.1f} GiB",
        [
            "step",
            "rollout s",
            "update s",
            "step s",
            "tokens/sequence",
            "generated/seq",
            "rollout tok/s",
            "update tok/s",
        ],
        table,
    )


if __name__ == "__main__":
    main()

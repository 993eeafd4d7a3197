"""Generation throughput of the paper's model shapes on one GPU, for the cost preview (`s3core plan`): answers
per second of a frozen generator (a RAG prompt in, a short answer out) and searcher turns per second, batched
beside one prompt at a time.

Randomly initialised models of Qwen2.5-7B's and Qwen2.5-14B's shapes in bf16 on transformers' `generate`
(weights do not change the speed; every turn runs to its token budget). vLLM is faster than this, so a preview
built on these rates is an upper bound of the GPU time. Needs only torch and transformers:

    python benchmarks/generation_gpu_cost.py --shapes 7b 14b
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

#: (hidden, intermediate, layers, heads, kv heads) of the Qwen2.5 models the paper runs
SHAPES = {"7b": (3584, 18944, 28, 28, 4), "14b": (5120, 13824, 48, 40, 8)}
#: (name, prompt tokens, new tokens, batch): a generator's answer to a naive-RAG or s3 context (3 documents of
#: ~100 words, the question, the instructions) and a searcher's turn at 8-3-3 (the question, documents, a query)
TASKS = [("answer", 640, 32, 64), ("searcher turn", 2048, 128, 32)]


def random_model(shape: str) -> torch.nn.Module:
    hidden, intermediate, layers, heads, kv = SHAPES[shape]
    config = Qwen2Config(
        vocab_size=152064,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=32768,
    )
    with torch.device("cuda"):
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()


@torch.inference_mode()
def prompts_per_second(model: torch.nn.Module, prompt: int, new: int, batch: int) -> float:
    ids = torch.randint(1000, 100000, (batch, prompt), device="cuda")
    settings = {"max_new_tokens": new, "min_new_tokens": new, "do_sample": False, "pad_token_id": 0}
    model.generate(ids[:, :64], **{**settings, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    model.generate(ids, attention_mask=torch.ones_like(ids), **settings)
    torch.cuda.synchronize()
    return batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print("| shape | task | prompt + new tokens | batched (per s) | one at a time (per s) | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for shape in args.shapes:
        model = random_model(shape)
        for name, prompt, new, batch in TASKS:
            batched = prompts_per_second(model, prompt, new, batch)
            single = prompts_per_second(model, prompt, new, 1)
            print(f"| {shape} | {name} | {prompt} + {new} | {batched:.2f} (batch {batch}) | {single:.2f} | "
                  f"{batched / single:.1f}x |", flush=True)  # fmt: skip
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

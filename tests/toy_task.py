"""A controlled PPO task: a tiny random Llama over a 16-word vocabulary; the reward is the share of generated
tokens that fall in a target set. Learning it needs every part of the trainer (rollouts, GAE, both updates)."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from s3core.train.trainer import Trajectory

WORDS = ["<pad>", "<eos>", "<unk>"] + [chr(ord("a") + i) for i in range(13)]
TARGET = {3, 4, 5}
NEW_TOKENS = 8


def make_tiny_model(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    llama = LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(llama).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def toy_pool(size: int = 32) -> list[dict]:
    rng = random.Random(0)
    return [{"ids": [rng.randrange(3, len(WORDS)) for _ in range(4)]} for _ in range(size)]


class ToyEnvironment:
    stop_strings = None

    def rollout(self, items, policy, temperature):
        contexts = [item["ids"] for item in items]
        replies = policy.generate(contexts, NEW_TOKENS, temperature)
        return [
            Trajectory(c + r, [0] * len(c) + [1] * len(r), sum(t in TARGET for t in r) / NEW_TOKENS, {"length": len(r)})
            for c, r in zip(contexts, replies)
        ]

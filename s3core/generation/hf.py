"""In-process Hugging Face generator: chat template, left padding, length-sorted batches, greedy decoding."""

from __future__ import annotations

import logging
from typing import Any

import torch

from s3core.assets import resolve_path
from s3core.generation import Messages
from s3core.retrieval.dense import pick_device

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """`auto` = bfloat16 on CUDA (when supported), float32 on CPU."""
    if name != "auto":
        return DTYPES[name]
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32


class HFGenerator:
    """A causal LM loaded once; `chat` answers many conversations in padded batches."""

    def __init__(self, name: str, settings: dict[str, Any]):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name
        self.settings = settings
        self.device = pick_device(settings["device"])
        path = str(resolve_path(settings["model"]))
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = pick_dtype(settings["dtype"], self.device)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()

    def encode(self, conversation: Messages) -> list[int]:
        """Prompt token ids (chat template + generation prompt), cut from the left to max_input_tokens."""
        ids = self.tokenizer.apply_chat_template(
            conversation, add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        limit = self.settings["max_input_tokens"]
        if len(ids) > limit:
            log.warning("prompt of %d tokens cut to the last %d (max_input_tokens)", len(ids), limit)
            ids = ids[-limit:]
        return ids

    def chat(self, conversations: list[Messages], max_new_tokens: int | None = None) -> list[str]:
        prompts = [self.encode(c) for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        answers: list[str] = [""] * len(prompts)
        size = self.settings["batch_size"]
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            texts = self.generate_ids([prompts[i] for i in chunk], max_new_tokens or self.settings["max_new_tokens"])
            for i, text in zip(chunk, texts):
                answers[i] = text
        return answers

    @torch.inference_mode()
    def generate_ids(self, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
        """Greedy continuation of pre-tokenised prompts (one padded batch)."""
        batch = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt").to(self.device)
        output = self.model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new = output[:, batch["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

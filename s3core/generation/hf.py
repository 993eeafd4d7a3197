"""In-process Hugging Face generator: chat template, left padding, length-sorted batches, greedy decoding."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import torch

from s3core.assets.demo import resolve_path
from s3core.config.sections import GeneratorConfig
from s3core.generation import Generator, Messages, Stops, cut_at_stop
from s3core.serving.devices import pick_device, pick_dtype

if TYPE_CHECKING:
    from transformers import BatchEncoding

log = logging.getLogger(__name__)


class HFGenerator(Generator):
    """A causal LM loaded once; `chat` answers many conversations in padded batches."""

    def __init__(self, name: str, config: GeneratorConfig):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name
        self.prompt_format = config.prompt_format
        self.config = config
        self.device = pick_device(config.device)
        path = str(resolve_path(config.model))
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = pick_dtype(config.dtype, self.device)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]  # transformers' stub of .to()

    def encode(self, conversation: Messages, prefix: str = "") -> list[int]:
        """Prompt token ids (chat template + generation prompt + the assistant's `prefix`), cut from the left
        to max_input_tokens."""
        encoded = self.tokenizer.apply_chat_template(
            conversation, add_generation_prompt=True, tokenize=True, return_dict=True
        )
        ids: list[int] = cast("BatchEncoding", encoded)["input_ids"]  # return_dict=True: a BatchEncoding
        if prefix:
            ids = list(ids) + self.tokenizer.encode(prefix, add_special_tokens=False)
        limit = self.config.max_input_tokens
        if len(ids) > limit:
            log.warning("prompt of %d tokens cut to the last %d (max_input_tokens)", len(ids), limit)
            ids = ids[-limit:]
        return ids

    def _continue(self, conversations: list[Messages], prefixes: list[str], limit: int, stop: Stops) -> list[str]:
        prompts = [self.encode(c, p) for c, p in zip(conversations, prefixes)]
        new_ids = generate(
            self.model,
            self.tokenizer,
            prompts,
            limit,
            self.config.batch_size,
            stop_strings=stop,
        )
        return [cut_at_stop(t, stop) for t in self.tokenizer.batch_decode(new_ids, skip_special_tokens=True)]


def _stop_ids(tokenizer: Any, model: Any) -> set[int]:
    """Token ids that end a sequence: the EOS id(s) of the generation config and the pad id."""
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ids.add(tokenizer.eos_token_id)
    ids.add(tokenizer.pad_token_id)
    return {i for i in ids if i is not None}


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int,
    temperature: float = 0.0,
    stop_strings: list[str] | None = None,
) -> list[list[int]]:
    """New token ids for each pre-tokenised prompt, cut before the first EOS/pad token.

    Prompts are sorted by length and run in left-padded batches; temperature 0 is greedy, otherwise plain
    sampling (no top-k/top-p). `stop_strings` end a sequence once its text contains one of them."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[list[int]] = [[] for _ in prompts]
    stops = _stop_ids(tokenizer, model)
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
        if temperature > 0
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [prompts[i] for i in chunk]}, return_tensors="pt").to(model.device)
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=stop_strings,
            tokenizer=tokenizer if stop_strings else None,
            **sampling,
        )
        for i, row in zip(chunk, output[:, batch["input_ids"].shape[1] :].tolist()):
            end = next((k for k, token in enumerate(row) if token in stops), len(row))
            outputs[i] = row[:end]
    return outputs

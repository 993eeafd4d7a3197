"""The searcher policy on an in-process Hugging Face model (`Policy`): the local trainer's and inference's."""

from __future__ import annotations

from typing import Any

from s3core.config.sections import SearcherConfig
from s3core.search.policy import STOP_STRINGS


class HFPolicy:
    """A causal LM (possibly the one being trained) generating in length-sorted, left-padded batches."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int, stop_strings: list[str] | None = STOP_STRINGS):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.stop_strings = stop_strings

    def generate(self, contexts: list[list[int]], max_new_tokens: int, temperature: float) -> list[list[int]]:
        from s3core.generation.hf import generate  # torch: only jobs that load a searcher import it

        was_training = self.model.training
        self.model.eval()
        try:
            return generate(
                self.model, self.tokenizer, contexts, max_new_tokens, self.batch_size, temperature, self.stop_strings
            )
        finally:
            self.model.train(was_training)


def load_tokenizer(path: str) -> Any:
    """The searcher's tokenizer, left-padding, with a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(searcher: SearcherConfig) -> HFPolicy:
    """The frozen searcher `searcher.model` (a Hugging Face folder or id) for inference."""
    from transformers import AutoModelForCausalLM

    from s3core.serving.devices import pick_device, pick_dtype  # torch: only jobs that load a searcher import it

    device = pick_device(searcher.device)
    dtype = pick_dtype(searcher.dtype, device)
    model = AutoModelForCausalLM.from_pretrained(searcher.model, dtype=dtype)
    model = model.to(device).eval()  # type: ignore[arg-type]  # transformers' stub of .to()
    return HFPolicy(model, load_tokenizer(searcher.model), searcher.batch_size)

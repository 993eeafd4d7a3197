"""The searcher policy behind one small interface, so the episode loop runs on any engine.

`Policy.generate` continues token contexts and returns the new token ids; the local trainer, inference and a
verl AgentLoop each supply their own implementation (`s3core.search.hf_policy` is the in-process Hugging Face
one). This module loads nothing heavy: the episode loop imports it.
"""

from __future__ import annotations

from typing import Any, Protocol

STOP_STRINGS = ["</query>"]


class Policy(Protocol):
    """Continue token contexts; `temperature` 0 is greedy."""

    tokenizer: Any

    def generate(self, contexts: list[list[int]], max_new_tokens: int, temperature: float) -> list[list[int]]: ...

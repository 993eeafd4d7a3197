"""Frozen generator backends behind one interface: in-process Hugging Face and OpenAI-compatible HTTP."""

from __future__ import annotations

from typing import Any, Protocol

Messages = list[dict[str, str]]


class Generator(Protocol):
    """Greedy chat completion for a batch of conversations."""

    name: str

    def chat(self, conversations: list[Messages], max_new_tokens: int | None = None) -> list[str]:
        """The assistant's reply to each conversation (stripped)."""

    def complete(self, conversations: list[Messages], prefixes: list[str], max_new_tokens: int | None = None,
                 stop: list[str] | None = None) -> list[str]:
        """Continue each conversation's assistant turn, which begins with the matching prefix; the text
        ends before the first of `stop` (the stop string itself is not returned)."""


def cut_at_stop(text: str, stop: list[str] | None) -> str:
    """`text` up to the earliest occurrence of any stop string."""
    ends = [i for i in (text.find(s) for s in stop or []) if i >= 0]
    return text[: min(ends)] if ends else text


def load_generator(name: str, settings: dict[str, Any]) -> Generator:
    """Build the backend a `generators.<name>` config entry asks for."""
    if settings["backend"] == "hf":
        from s3core.generation.hf import HFGenerator

        return HFGenerator(name, settings)
    if settings["backend"] == "vllm":
        from s3core.generation.vllm import VLLMGenerator

        return VLLMGenerator(name, settings)
    from s3core.generation.openai_http import OpenAIGenerator
    from s3core.provenance import record_service

    generator = OpenAIGenerator(name, settings)
    record_service(f"generator:{name}", settings["base_url"], external=True, model=settings["model"])
    return generator

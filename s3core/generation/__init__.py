"""Frozen generator backends behind one interface: in-process Hugging Face and OpenAI-compatible HTTP."""

from __future__ import annotations

from typing import Any, Protocol

Messages = list[dict[str, str]]


class Generator(Protocol):
    """Greedy chat completion for a batch of conversations."""

    name: str

    def chat(self, conversations: list[Messages], max_new_tokens: int | None = None) -> list[str]: ...


def load_generator(name: str, settings: dict[str, Any]) -> Generator:
    """Build the backend a `generators.<name>` config entry asks for."""
    if settings["backend"] == "hf":
        from s3core.generation.hf import HFGenerator

        return HFGenerator(name, settings)
    from s3core.generation.openai_http import OpenAIGenerator

    return OpenAIGenerator(name, settings)

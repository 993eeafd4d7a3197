"""Frozen generator backends behind one interface: in-process Hugging Face and OpenAI-compatible HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from s3core.config.sections import GeneratorConfig, JudgeConfig

Messages = list[dict[str, str]]
Stops = list[str] | None


class Generator:
    """Greedy chat completion for a batch of conversations; a backend implements `_continue` (test doubles may
    implement `chat` and `complete` alone)."""

    name: str
    prompt_format: str  # "chat" (system + user turns) or "single_user" (one user message)
    config: GeneratorConfig

    def chat(self, conversations: list[Messages], max_new_tokens: int | None = None) -> list[str]:
        """The assistant's reply to each conversation (stripped)."""
        return [t.strip() for t in self.complete(conversations, ["" for _ in conversations], max_new_tokens)]

    def complete(
        self,
        conversations: list[Messages],
        prefixes: list[str],
        max_new_tokens: int | None = None,
        stop: list[str] | None = None,
    ) -> list[str]:
        """Continue each conversation's assistant turn, which begins with the matching prefix; the text
        ends before the first of `stop` (the stop string itself is not returned)."""
        return self._continue(conversations, prefixes, max_new_tokens or self.config.max_new_tokens, stop)

    def _continue(self, conversations: list[Messages], prefixes: list[str], limit: int, stop: Stops) -> list[str]:
        """`complete` with the token budget resolved."""
        raise NotImplementedError


def cut_at_stop(text: str, stop: list[str] | None) -> str:
    """`text` up to the earliest occurrence of any stop string."""
    ends = [i for i in (text.find(s) for s in stop or []) if i >= 0]
    return text[: min(ends)] if ends else text


def load_generator(name: str, config: GeneratorConfig) -> Generator:
    """Build the backend a `generators.<name>` config entry asks for."""
    if config.backend == "hf":
        from s3core.generation.hf import HFGenerator

        return HFGenerator(name, config)
    if config.backend == "vllm":
        from s3core.generation.run_servers import run_server
        from s3core.generation.vllm import VLLMGenerator

        if server := run_server(name, config):  # the workflow run's own server for this generator
            return served_generator(name, config, server)
        return VLLMGenerator(name, config)
    if config.backend in ("anthropic", "bedrock"):
        from s3core.generation.claude import ClaudeGenerator

        return ClaudeGenerator(name, config)
    from s3core.generation.openai_http import OpenAIGenerator

    return OpenAIGenerator(name, config)


def served_generator(name: str, config: GeneratorConfig, server: dict[str, Any]) -> Generator:
    """Generator `name` answered by the workflow run's vLLM server `server` (its announcement)."""
    from s3core.generation.openai_http import OpenAIGenerator

    return OpenAIGenerator(name, replace(config, base_url=f"{server['url']}/v1"), served_by=server)


def judge_name(generator: str, judge: JudgeConfig) -> str | None:
    """The generator that judges (the `judge` config section): None when judging is off, the answering
    generator itself when no other is named (upstream code)."""
    return (judge.generator or generator) if judge.enabled else None


def load_answerers(
    generator: str, generators: dict[str, GeneratorConfig], judge: JudgeConfig
) -> tuple[Generator, Generator | None]:
    """The frozen generator `generator` and its judge (None when judging is off; the same object when the
    generator judges itself)."""
    answering = load_generator(generator, generators[generator])
    name = judge_name(generator, judge)
    if name is None:
        return answering, None
    return answering, answering if name == generator else load_generator(name, generators[name])

"""Generators behind a network API: one request per conversation, sent `concurrency` at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from s3core.config.sections import GeneratorConfig
from s3core.generation import Generator, Messages, Stops
from s3core.serving.provenance import record_service
from s3core.serving.run_servers import served_by_entry


class RemoteGenerator(Generator):
    """The batch interface of `Generator` over `_one`, a single request (subclasses: OpenAI, Claude); the endpoint
    is recorded in the job's provenance."""

    def __init__(self, name: str, config: GeneratorConfig, served_by: dict[str, Any] | None = None):
        self.name = name
        self.prompt_format = config.prompt_format
        self.config = config
        record_service(
            f"generator:{name}",
            config.base_url or config.backend,
            external=served_by is None,
            model=config.model,
            **(served_by_entry(served_by) if served_by else {}),
        )

    def _one(self, conversation: Messages, prefix: str, max_new_tokens: int, stop: Stops) -> str:
        raise NotImplementedError

    def _continue(self, conversations: list[Messages], prefixes: list[str], limit: int, stop: Stops) -> list[str]:
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            return list(pool.map(lambda c, p: self._one(c, p, limit, stop), conversations, prefixes))

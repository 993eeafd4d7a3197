"""OpenAI-compatible chat completions (a vLLM server or any API), concurrent requests with retries."""

from __future__ import annotations

import os
from typing import Any

import httpx

from s3core.config.sections import GeneratorConfig
from s3core.errors import ConfigError
from s3core.generation import Messages, cut_at_stop
from s3core.generation.remote import RemoteGenerator
from s3core.serving.bearer import bearer_headers
from s3core.serving.http_retry import post_with_retries
from s3core.serving.slurm_server import server_token


def request_priority() -> int:
    """The priority of this process's requests to a vLLM server it or the run started (they schedule by priority):
    its CPU nice value, so a job that yields the CPU (`s3core --nice`) also waits its turn at the server (lower is
    served first)."""
    return os.getpriority(os.PRIO_PROCESS, 0)


class OpenAIGenerator(RemoteGenerator):
    """POST /chat/completions at `base_url`, temperature 0; the key comes from `api_key_env` if set."""

    def __init__(self, name: str, config: GeneratorConfig, served_by: dict[str, Any] | None = None):
        """`served_by`: the workflow run's server this endpoint is (recorded in the job's provenance)."""
        if not config.base_url:
            raise ConfigError(f"config key 'generators.{name}.base_url' is required for backend 'openai'")
        super().__init__(name, config, served_by)
        key = (served_by and server_token(served_by)) or os.environ.get(config.api_key_env, "")
        self._http = httpx.Client(timeout=config.timeout_s, headers=bearer_headers(key))
        self.url = config.base_url.rstrip("/") + "/chat/completions"

    def _one(self, conversation: Messages, prefix: str, max_new_tokens: int, stop: list[str] | None) -> str:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": conversation,
            "temperature": 0,
            "top_p": 1.0,
            "max_tokens": max_new_tokens,
        }
        if stop:
            payload["stop"] = stop
        if self.config.backend == "vllm":  # a server started here or by the run: it schedules by priority
            payload["priority"] = request_priority()
        if prefix:  # vLLM's extension: continue the final assistant message instead of opening a new one
            payload.update(
                messages=[*conversation, {"role": "assistant", "content": prefix}],
                continue_final_message=True,
                add_generation_prompt=False,
            )
        body = post_with_retries(self._http, self.url, payload, self.config.retries, backoff_s=1.0)
        return cut_at_stop(body["choices"][0]["message"]["content"] or "", stop)

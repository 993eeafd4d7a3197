"""Backends "anthropic" and "bedrock": Claude (the paper's Claude-3-Haiku) through the Anthropic Messages API or
AWS Bedrock, with the anthropic SDK; temperature 0. Credentials come from the environment only: the key named by
`api_key_env` (Anthropic), or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) for Bedrock."""

from __future__ import annotations

import os
from typing import Any

from s3core.config.sections import GeneratorConfig
from s3core.errors import ConfigError, ServiceError
from s3core.generation import Messages, cut_at_stop
from s3core.generation.remote import RemoteGenerator

AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
BEDROCK_VERSION = "bedrock-2023-05-31"


def claude_client(name: str, config: GeneratorConfig) -> Any:
    """The SDK client of a `generators.<name>` entry with backend anthropic or bedrock."""
    import anthropic

    common: dict[str, Any] = {"base_url": config.base_url, "max_retries": config.retries, "timeout": config.timeout_s}
    if config.backend == "anthropic":
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ConfigError(
                f"generators.{name}: backend 'anthropic' reads its key from the environment variable "
                f"{config.api_key_env} (config key 'generators.{name}.api_key_env'), which is unset"
            )
        return anthropic.Anthropic(api_key=key, **common)
    missing = [k for k in AWS_KEYS if not os.environ.get(k)]
    region = config.aws_region or os.environ.get("AWS_REGION")
    if missing or not region:
        needed = ", ".join(missing + ([] if region else ["AWS_REGION"]))
        raise ConfigError(
            f"generators.{name}: backend 'bedrock' needs {needed} in the environment (or config key "
            f"'generators.{name}.aws_region' for the region)"
        )
    return anthropic.AnthropicBedrock(
        aws_access_key=os.environ[AWS_KEYS[0]],
        aws_secret_key=os.environ[AWS_KEYS[1]],
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
        aws_region=region,
        **common,
    )


class ClaudeGenerator(RemoteGenerator):
    """Messages API requests; system turns go to `system`, an assistant prefix is prefilled."""

    def __init__(self, name: str, config: GeneratorConfig):
        super().__init__(name, config)
        self.client = claude_client(name, config)
        # What upstream sent beside the messages: temperature 0 (this SDK release has no argument for it) and, on
        # Bedrock, the API version it called Claude-3-Haiku with.
        self.upstream_body = {
            "temperature": 0,
            **({"anthropic_version": BEDROCK_VERSION} if config.backend == "bedrock" else {}),
        }

    def _one(self, conversation: Messages, prefix: str, max_new_tokens: int, stop: list[str] | None) -> str:
        import anthropic

        system = "\n\n".join(m["content"] for m in conversation if m["role"] == "system")
        messages = [m for m in conversation if m["role"] != "system"]
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
        request: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": max_new_tokens,
            "messages": messages,
            "extra_body": self.upstream_body,
        }
        if system:
            request["system"] = system
        if stop:
            request["stop_sequences"] = stop
        try:
            reply = self.client.messages.create(**request)
        except anthropic.APIError as exc:
            raise ServiceError(
                f"generator {self.name} ({self.config.backend}, model {self.config.model}) "
                f"failed after {self.config.retries} retries: {exc}"
            ) from exc
        return cut_at_stop("".join(block.text for block in reply.content if block.type == "text"), stop)

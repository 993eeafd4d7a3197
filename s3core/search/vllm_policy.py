"""The searcher policy on a vLLM server (`Policy`), for inference (`searcher.inference: vllm`): token ids go in
and come back through `/v1/completions` (`return_token_ids`), so the episode's context is the exact sequence the
model saw, as with the in-process policy; a turn ends after its stop string (kept in the output) or at EOS (cut)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx

from s3core.config.sections import SearcherConfig
from s3core.generation.openai_http import request_priority
from s3core.search.policy import STOP_STRINGS
from s3core.serving.bearer import bearer_headers
from s3core.serving.http_retry import post_with_retries


class VLLMPolicy:
    """Continue token contexts on the vLLM server at `base_url` serving `model`, `concurrency` requests at once."""

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer: Any,
        concurrency: int = 16,
        retries: int = 5,
        token: str | None = None,
    ):
        self.url = base_url.rstrip("/") + "/v1/completions"
        self.model, self.tokenizer, self.retries = model, tokenizer, retries
        self.stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
        self._http = httpx.Client(timeout=600, headers=bearer_headers(token))
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="vllm-policy")

    def generate(self, contexts: list[list[int]], max_new_tokens: int, temperature: float) -> list[list[int]]:
        return list(self._pool.map(lambda ids: self._one(ids, max_new_tokens, temperature), contexts))

    def close(self) -> None:
        self._pool.shutdown()
        self._http.close()

    def _one(self, ids: list[int], max_new_tokens: int, temperature: float) -> list[int]:
        payload = {
            "model": self.model,
            "prompt": ids,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": 1.0,
            "stop": STOP_STRINGS,
            "include_stop_str_in_output": True,
            "skip_special_tokens": False,
            "return_token_ids": True,
            "priority": request_priority(),
        }
        tokens: list[int] = post_with_retries(self._http, self.url, payload, self.retries, backoff_s=1.0)["choices"][0][
            "token_ids"
        ]
        end = next((k for k, token in enumerate(tokens) if token in self.stops), len(tokens))
        return tokens[:end]


@contextmanager
def served_policy(searcher: SearcherConfig) -> Iterator[VLLMPolicy]:
    """A VLLMPolicy of `searcher.model`: on the workflow run's server for that model if it has one (e.g. the untrained
    searcher is the demo's generator), else on a server this job starts with `searcher.vllm` and stops; either is
    recorded in the job's provenance as `generator:searcher`."""
    from s3core.generation.run_servers import run_server_for_model
    from s3core.generation.vllm import vllm_sidecar
    from s3core.search.hf_policy import load_tokenizer
    from s3core.serving.provenance import record_service
    from s3core.serving.run_servers import served_by_entry
    from s3core.serving.slurm_server import server_token

    model = searcher.model
    tokenizer = load_tokenizer(model)
    with ExitStack() as stack:
        token = None
        if shared := run_server_for_model(model, searcher.vllm.startup_timeout_s):
            url, token = shared["url"], server_token(shared)
            record_service("generator:searcher", url, external=False, model=model, **served_by_entry(shared))
        else:
            url = stack.enter_context(vllm_sidecar("searcher", model, searcher.vllm)).url
        policy = VLLMPolicy(url, model, tokenizer, searcher.batch_size, token=token)
        stack.callback(policy.close)
        yield policy

"""HTTP client of the retriever server: batches of queries, each POST with timeouts, retries and a deadline."""

from __future__ import annotations

from typing import Any

import httpx

from s3core.config.sections import ClientConfig
from s3core.data.corpus import Document
from s3core.serving.bearer import bearer_headers
from s3core.serving.http_retry import post_with_retries


class RetrieverClient:
    """Sends queries in batches to POST /retrieve and returns Documents."""

    def __init__(self, url: str, options: ClientConfig, token: str | None = None):
        """`token`: the bearer token a run's server job wants (s3core.serving.slurm_server)."""
        self.url = url.rstrip("/")
        self.options = options
        self._http = httpx.Client(timeout=options.timeout_s, headers=bearer_headers(token))

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        return self._http.get(f"{self.url}/health").json()

    def search(self, queries: list[str], topk: int) -> list[list[Document]]:
        """Top-k documents per query, in order."""
        size = self.options.batch_size
        results: list[list[Document]] = []
        for start in range(0, len(queries), size):
            payload = {"queries": queries[start : start + size], "topk": topk, "return_scores": False}
            body = post_with_retries(
                self._http,
                f"{self.url}/retrieve",
                payload,
                self.options.retries,
                self.options.backoff_s,
                self.options.deadline_s,
            )
            results.extend([Document.from_row(d) for d in row] for row in body["result"])
        return results

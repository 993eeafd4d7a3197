"""HTTP client of the retriever server: timeouts, retries with exponential backoff, clear errors."""

from __future__ import annotations

import time
from typing import Any

import httpx

from s3core.corpus import Document
from s3core.errors import ServiceError


def post_with_retries(client: httpx.Client, url: str, payload: dict[str, Any], retries: int, backoff_s: float) -> Any:
    """POST JSON; retry connection errors, timeouts and 5xx; a 4xx is raised at once (it will not heal)."""
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            response = client.post(url, json=payload)
            if response.status_code < 500:
                if response.is_error:
                    raise ServiceError(f"{url} rejected the request ({response.status_code}): {response.text}")
                return response.json()
            last = ServiceError(f"{url} answered {response.status_code}: {response.text[:300]}")
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            last = exc
        if attempt < retries:
            time.sleep(backoff_s * 2**attempt)
    raise ServiceError(f"{url} failed after {retries + 1} attempts ({last}); is the server running and healthy?")


class RetrieverClient:
    """Sends queries in batches to POST /retrieve and returns Documents."""

    def __init__(self, url: str, settings: dict[str, Any]):
        self.url = url.rstrip("/")
        self.settings = settings
        self._http = httpx.Client(timeout=settings["timeout_s"])

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        return self._http.get(f"{self.url}/health").json()

    def search(self, queries: list[str], topk: int) -> list[list[Document]]:
        """Top-k documents per query, in order."""
        size = self.settings["batch_size"]
        results: list[list[Document]] = []
        for start in range(0, len(queries), size):
            payload = {"queries": queries[start : start + size], "topk": topk, "return_scores": False}
            body = post_with_retries(
                self._http, f"{self.url}/retrieve", payload, self.settings["retries"], self.settings["backoff_s"]
            )
            results.extend([Document.from_row(d) for d in row] for row in body["result"])
        return results

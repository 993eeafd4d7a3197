"""POST with retries: connection errors, timeouts and 5xx are retried with exponential backoff within a total
deadline; a 4xx is raised at once; the error names the endpoint (credentials masked) and what to check."""

from __future__ import annotations

import time
from typing import Any

import httpx

from s3core.errors import ServiceError
from s3core.serving.redact import redact


def post_with_retries(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    retries: int,
    backoff_s: float,
    deadline_s: float | None = None,
) -> Any:
    """POST JSON and return the answer's JSON. Each attempt waits at most the client's timeout and what is left of
    `deadline_s` (None: no total limit), so a hung server costs a caller `deadline_s`, not every attempt's full
    timeout and backoff."""
    last: Exception | None = None
    started = time.monotonic()
    attempts = 0
    for attempt in range(retries + 1):
        left = None if deadline_s is None else deadline_s - (time.monotonic() - started)
        if left is not None and left <= 0:
            break
        attempts += 1
        try:
            response = client.post(url, json=payload, timeout=_timeout(client, left))
            if response.status_code < 500:
                if response.is_error:
                    raise ServiceError(f"{redact(url)} rejected the request ({response.status_code}): {response.text}")
                return response.json()
            last = ServiceError(f"{redact(url)} answered {response.status_code}: {response.text[:300]}")
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            last = exc
        if attempt < retries:
            pause = backoff_s * 2**attempt
            if deadline_s is not None:
                pause = min(pause, max(deadline_s - (time.monotonic() - started), 0))
            time.sleep(pause)
    spent = time.monotonic() - started
    within = f" within the {deadline_s:g} s deadline" if deadline_s is not None and attempts < retries + 1 else ""
    raise ServiceError(
        f"{redact(url)} failed after {attempts} attempt(s) in {spent:.1f} s{within} ({redact(str(last))}); "
        "is the server running and healthy?"
    )


def _timeout(client: httpx.Client, left: float | None) -> httpx.Timeout:
    """The client's timeout, each phase cut to what is left of the deadline."""
    if left is None:
        return client.timeout
    phases = client.timeout.as_dict()
    return httpx.Timeout(**{phase: left if value is None else min(value, left) for phase, value in phases.items()})

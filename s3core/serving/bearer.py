"""A bearer token in front of an HTTP server (ASGI middleware): a request without `Authorization: Bearer <token>`
gets 401, compared in constant time; `/health` stays open so a start-up check needs no secret."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
OPEN_PATHS = frozenset({"/health"})


class BearerToken:
    """Refuse HTTP requests that do not carry `token` (paths of OPEN_PATHS excepted)."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS and not self._authorised(scope):
            body = json.dumps({"detail": "missing or wrong bearer token (the run's token file)"}).encode()
            headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        return hmac.compare_digest(given, self.expected)


def bearer_headers(token: str | None) -> dict[str, str]:
    """A client's headers for a server that wants `token` (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}

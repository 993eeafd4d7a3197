"""ASGI middleware that bounds what a client may make the server hold: a request body over `max_bytes` is
answered 413 (declared or streamed), one not fully received within `timeout_s` 408, and the connection closed;
without it a 200 MB body is read into memory and a client that sends headers and never a body holds a
connection forever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def answer(send: Send, status: int, detail: str) -> None:
    """A JSON error `{"detail": ...}` (FastAPI's shape) that closes the connection."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def too_large(size: int, limit: int) -> str:
    return f"the request body has {size} bytes or more; the limit is {limit} (max_body_bytes)"


class BodyLimits:
    """Wrap `app`; limits from `retriever.server.max_body_bytes` and `body_timeout_s`."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await answer(send, 413, too_large(int(declared), self.max_bytes))
            return
        await _Guarded(self, scope, receive, send).run()


class _Guarded:
    """One request: its body counted and timed as the app reads it; the app's own answer dropped once refused."""

    def __init__(self, limits: BodyLimits, scope: Scope, receive: Receive, send: Send):
        self.limits, self.scope, self.receive, self.send = limits, scope, receive, send
        self.deadline = asyncio.get_running_loop().time() + limits.timeout_s
        self.received = 0
        self.refused = False
        self.started = False

    async def run(self) -> None:
        await self.limits.app(self.scope, self._receive, self._send)

    async def _receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        try:
            async with asyncio.timeout_at(self.deadline):  # one timer, no task per read (unlike wait_for)
                message = await self.receive()
        except TimeoutError:
            return await self._refuse(
                408, f"the request body did not arrive within {self.limits.timeout_s:g} s (body_timeout_s)"
            )
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_bytes:
                return await self._refuse(413, too_large(self.received, self.limits.max_bytes))
        return message

    async def _refuse(self, status: int, detail: str) -> Message:
        """Answer now (unless the app already began to), then tell the app the client is gone."""
        self.refused = True
        if not self.started:
            self.started = True
            await answer(self.send, status, detail)
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self.refused:
            return
        self.started = True
        await self.send(message)


def json_object(body: bytes, shape: str) -> dict[str, Any]:
    """A request body as a JSON object; 422 when it is not JSON or not an object (`shape`: what it should hold)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"the body is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise HTTPException(422, f"the body must be a JSON object{shape}")
    return data

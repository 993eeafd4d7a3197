"""The retriever HTTP server: POST /retrieve (Search-R1/s3 contract), GET /health and GET /stats.

/retrieve is a plain Starlette route that reads and checks its JSON by hand: FastAPI's request model and response
encoding cost several times the event loop's own work per request, and at paper scale on a GPU the event loop is
what limits the server."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.requests import Request
from starlette.responses import Response

from s3core import __version__
from s3core.config.sections import ServerConfig
from s3core.errors import ServiceError
from s3core.retrieval.base import Hit, Retriever
from s3core.retrieval.batcher import DynamicBatcher, SearchFn
from s3core.retrieval.body_limits import BodyLimits, json_object
from s3core.serving.bearer import BearerToken


@dataclass(frozen=True)
class RetrieveRequest:
    queries: list[str]
    topk: int | None = None
    return_scores: bool = False


def _parse(body: bytes) -> RetrieveRequest:
    """The request's JSON as a RetrieveRequest; 422 naming the field that is missing or of the wrong type."""
    data = json_object(body, " with queries, topk and return_scores")
    queries, topk, scores = data.get("queries"), data.get("topk"), data.get("return_scores", False)
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise HTTPException(422, "queries must be a list of strings")
    if topk is not None and (not isinstance(topk, int) or isinstance(topk, bool)):
        raise HTTPException(422, "topk must be an integer")
    if not isinstance(scores, bool):
        raise HTTPException(422, "return_scores must be true or false")
    return RetrieveRequest(queries, topk, scores)


def _check(request: RetrieveRequest, limits: ServerConfig) -> None:
    """4xx with a message naming the limit that was exceeded."""
    if not request.queries:
        raise HTTPException(400, "queries is empty: send at least one query")
    if request.topk is not None and not 1 <= request.topk <= limits.max_topk:
        raise HTTPException(400, f"topk={request.topk} is outside 1..{limits.max_topk} (server limit max_topk)")
    if len(request.queries) > limits.max_queries:
        raise HTTPException(
            413, f"{len(request.queries)} queries in one request; the limit is {limits.max_queries} (max_queries)"
        )
    for number, query in enumerate(request.queries, start=1):
        try:
            query.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: valid JSON, but no text; it would fail its whole batch
            raise HTTPException(400, f"query {number} is not valid Unicode text ({exc.reason} at {exc.start})") from exc
    longest = max(len(q) for q in request.queries)
    if longest > limits.max_query_chars:
        raise HTTPException(
            413, f"a query has {longest} characters; the limit is {limits.max_query_chars} (max_query_chars)"
        )


def _render(hits: list[Hit], with_scores: bool) -> list[dict[str, Any]]:
    docs = [({"id": doc.id, "contents": doc.contents}, score) for doc, score in hits]
    if with_scores:
        return [{"document": doc, "score": score} for doc, score in docs]
    return [doc for doc, _ in docs]


def search_coroutine(retriever: Retriever) -> tuple[SearchFn, int]:
    """The retriever's search as a coroutine, and how many batches it can take at once: a retriever with a search
    process (`search_async`) pipelines them; any other searches one at a time in a worker thread."""
    if hasattr(retriever, "search_async") and hasattr(retriever, "in_flight"):
        return retriever.search_async, retriever.in_flight
    return (lambda queries, topk: asyncio.to_thread(retriever.search, queries, topk)), 1


def create_app(retriever: Retriever, server: ServerConfig, default_topk: int, token: str | None = None) -> FastAPI:
    """An app serving `retriever`; `server` is the `retriever.server` config section; with `token`, every route but
    /health wants it as a bearer token."""
    search, in_flight = search_coroutine(retriever)
    batcher = DynamicBatcher(search, server.max_batch, in_flight) if server.batching else None

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if batcher:
            batcher.start()
        yield
        if batcher:
            await batcher.stop()
        if hasattr(retriever, "close"):
            retriever.close()

    # no /docs, /redoc or /openapi.json: the server answers its three routes and nothing else
    app = FastAPI(title="s3 retriever", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.batcher = batcher
    app.add_middleware(BodyLimits, max_bytes=server.max_body_bytes, timeout_s=server.body_timeout_s)
    if token:
        app.add_middleware(BearerToken, token=token)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        if failure := getattr(retriever, "failure", None):
            raise HTTPException(503, failure)
        return {
            "status": "ok",
            "retriever": retriever.kind,
            "documents": len(retriever),
            "batching": bool(batcher),
            "s3core": __version__,
        }

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        """Searches run, queries searched and seconds per stage since start (a batch of requests is one search)."""
        stages = getattr(retriever, "stats", None)
        return {"retriever": retriever.kind, **(stages.snapshot() if stages else {})}

    async def retrieve(http: Request) -> Response:
        request = _parse(await http.body())
        _check(request, server)
        topk = request.topk or default_topk
        try:
            hits = await (batcher.submit if batcher else search)(request.queries, topk)
        except ServiceError as exc:  # the search process is gone: say so, not "Internal Server Error"
            raise HTTPException(503, str(exc)) from exc
        body = json.dumps(
            {"result": [_render(row, request.return_scores) for row in hits]}, ensure_ascii=False, separators=(",", ":")
        )
        return Response(body, media_type="application/json")

    app.router.add_route("/retrieve", retrieve, methods=["POST"])
    return app

"""The trained searcher over HTTP (`s3core serve --kind searcher`): POST /search runs the s3 loop on questions and
answers with the selected documents (and a generator's answer when one is configured); POST /v1/chat/completions
does the same for the last user message in OpenAI's shape; GET /v1/models, /health and /stats.

The loop is the one inference runs (`drive_episodes`, greedy). Each request plays its own episodes; their turns go
through one batcher per stage (the retriever server's `DynamicBatcher`), so the turns of concurrent requests are
generated as one policy batch, their queries searched as one retriever batch and their answers written as one
generator batch. Bound beyond loopback it requires a bearer token (`Authorization: Bearer <token>`)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import stat
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from s3core import __version__
from s3core.config.sections import JobConfig, SearchConfig, SearcherServerConfig
from s3core.data.corpus import Document, format_selected
from s3core.errors import ConfigError, ServiceError
from s3core.generation import Generator
from s3core.generation.prompts import generator_messages
from s3core.retrieval.batcher import DynamicBatcher
from s3core.retrieval.body_limits import BodyLimits, json_object
from s3core.search.episode import Episode
from s3core.search.policy import Policy
from s3core.search.prompt import SearcherPrompt
from s3core.search.rollout import AsyncSearch, drive_episodes
from s3core.serving.bearer import BearerToken
from s3core.stages.services import Answering, RetrieverAccess

log = logging.getLogger("s3core")


@dataclass(frozen=True)
class Searcher:
    """What the server runs: the searcher `model` as `policy`, its retriever as `search` (`retriever` names it),
    the `search` config section, the first message, and the generator that answers (None: documents only)."""

    model: str
    policy: Policy
    search: AsyncSearch
    retriever: str
    search_config: SearchConfig
    prompt: SearcherPrompt = SearcherPrompt()
    generator: Generator | None = None


@dataclass
class ServedStats:
    """Totals since start (GET /stats); a batch is one call of the policy, the retriever or the generator."""

    requests: int = 0
    questions: int = 0
    turns: int = 0
    searches: int = 0
    batches: dict[str, int] = field(default_factory=lambda: {"generate": 0, "search": 0, "answer": 0})
    seconds: dict[str, float] = field(default_factory=lambda: {"generate": 0.0, "search": 0.0, "answer": 0.0})

    def timed(self, stage: str, run: Callable[[list[Any], int], Awaitable[list[Any]]]) -> Callable:
        """`run` counted as a batch of `stage` and its seconds added."""

        async def counted(items: list[Any], limit: int) -> list[Any]:
            began = time.perf_counter()
            try:
                return await run(items, limit)
            finally:
                self.batches[stage] += 1
                self.seconds[stage] += time.perf_counter() - began

        return counted

    def snapshot(self) -> dict[str, Any]:
        counts = {"requests": self.requests, "questions": self.questions, "turns": self.turns}
        batches = {f"{stage}_batches": n for stage, n in self.batches.items()}
        return {**counts, "searches": self.searches, **batches, **{f"{k}_s": v for k, v in self.seconds.items()}}


# --- requests ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    questions: list[str]
    topk: int | None = None
    max_turns: int | None = None


def _optional_int(data: dict[str, Any], key: str, limit: int) -> int | None:
    """`data[key]` when given: an integer in 1..limit (the server limit `max_<key>`), else 4xx naming it."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise HTTPException(422, f"{key} must be an integer")
    if not 1 <= value <= limit:
        raise HTTPException(400, f"{key}={value} is outside 1..{limit} (server limit max_{key})")
    return value


def parse_search(data: dict[str, Any], limits: SearcherServerConfig) -> SearchRequest:
    """A /search body (`questions`: [str], or `question`: str; optional `topk`, `max_turns`) within the limits."""
    questions = data.get("questions", [data["question"]] if "question" in data else None)
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise HTTPException(422, "send questions (a list of strings) or question (a string)")
    check_questions(questions, limits)
    return SearchRequest(
        questions, _optional_int(data, "topk", limits.max_topk), _optional_int(data, "max_turns", limits.max_turns)
    )


def check_questions(questions: list[str], limits: SearcherServerConfig) -> None:
    """4xx with a message naming the limit a request exceeds."""
    if not questions:
        raise HTTPException(400, "no question: send at least one")
    if len(questions) > limits.max_questions:
        raise HTTPException(
            413, f"{len(questions)} questions in one request; the limit is {limits.max_questions} (max_questions)"
        )
    for number, question in enumerate(questions, start=1):
        if not question.strip():
            raise HTTPException(400, f"question {number} is empty")
        if len(question) > limits.max_question_chars:
            raise HTTPException(
                413,
                f"question {number} has {len(question)} characters; the limit is {limits.max_question_chars} "
                "(max_question_chars)",
            )
        try:
            question.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: valid JSON, but no text
            raise HTTPException(400, f"question {number} is not valid Unicode text ({exc.reason})") from exc


def last_user_message(data: dict[str, Any]) -> str:
    """The question of a chat completion request: its last user message's text (a string or text parts)."""
    if data.get("stream"):
        raise HTTPException(400, "stream is not supported: send stream false (the answer comes whole)")
    messages = data.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise HTTPException(422, "messages must be a list of {role, content} objects")
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    if not users:
        raise HTTPException(400, "messages has no user message: the last one is the question")
    content = users[-1]
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise HTTPException(422, "the last user message's content must be text")
    return content


# --- the loop ----------------------------------------------------------------------------------------------------


class Engine:
    """The searcher's stages behind batchers shared by all requests; `run` plays a request's questions."""

    def __init__(self, searcher: Searcher, limits: SearcherServerConfig):
        self.searcher = searcher
        self.stats = ServedStats()
        policy, timed = searcher.policy, self.stats.timed

        async def generate(contexts: list[list[int]], budget: int) -> list[list[int]]:
            return await asyncio.to_thread(policy.generate, contexts, budget, 0.0)  # greedy, as inference

        self.generate = DynamicBatcher(timed("generate", generate), limits.max_batch)
        self.search = DynamicBatcher(timed("search", searcher.search), limits.max_batch)
        self.answer = DynamicBatcher(timed("answer", self._chat), limits.max_batch, cut=False)

    async def _chat(self, conversations: list[Any], budget: int) -> list[str]:
        generator = self.searcher.generator
        if generator is None:
            raise ServiceError("this searcher server has no generator (start it with --generator NAME)")
        return await asyncio.to_thread(generator.chat, conversations)

    def start(self) -> None:
        for batcher in (self.generate, self.search, self.answer):
            batcher.start()

    async def stop(self) -> None:
        for batcher in (self.generate, self.search, self.answer):
            await batcher.stop()

    def config(self, request: SearchRequest) -> SearchConfig:
        """The server's `search` section with the request's overrides."""
        search = self.searcher.search_config
        return replace(search, topk=request.topk or search.topk, max_turns=request.max_turns or search.max_turns)

    async def run(self, request: SearchRequest) -> list[dict[str, Any]]:
        """Each question's selected documents, queries and turns (and answer with a generator)."""
        config, searcher = self.config(request), self.searcher
        initial = await self.search.submit(request.questions, config.initial_topk)
        episodes = [
            Episode({"question": q}, docs, searcher.policy.tokenizer, config, searcher.prompt)
            for q, docs in zip(request.questions, initial)
        ]

        async def generate(contexts: list[list[int]], budget: int, _: float) -> list[list[int]]:
            return await self.generate.submit(contexts, budget)

        await drive_episodes(episodes, generate, self.search.submit, config, 0.0)
        answers = await self._answers(episodes)
        self._count(episodes)
        return [_result(e, a) for e, a in zip(episodes, answers)]

    async def _answers(self, episodes: list[Episode]) -> list[str | None]:
        """The generator's answer from each episode's selected documents (the shared evaluator's prompt)."""
        generator = self.searcher.generator
        if generator is None:
            return [None] * len(episodes)
        conversations = [
            generator_messages(e.question["question"], e.selected_docs(), "direct", "selected", generator.prompt_format)
            for e in episodes
        ]
        return await self.answer.submit(conversations, 0)

    def _count(self, episodes: list[Episode]) -> None:
        self.stats.requests += 1
        self.stats.questions += len(episodes)
        self.stats.turns += sum(e.turns for e in episodes)
        self.stats.searches += sum(e.searches for e in episodes)


def _result(episode: Episode, answer: str | None) -> dict[str, Any]:
    result = {
        "question": episode.question["question"],
        "docs": [d.to_dict() for d in episode.selected_docs()],
        "queries": list(episode.queries),
        "turns": episode.turns,
    }
    return {**result, "answer": answer} if answer is not None else result


def completion(model: str, result: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion whose content is the answer (or, without a generator, the selected documents as
    the generator would read them); `s3` carries the documents, queries and turns."""
    content = result.get("answer")
    if content is None:
        content = format_selected(Document.from_row(d) for d in result["docs"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "s3": {key: result[key] for key in ("docs", "queries", "turns")},
    }


# --- the app -----------------------------------------------------------------------------------------------------


def create_app(searcher: Searcher, limits: SearcherServerConfig, token: str | None) -> FastAPI:
    """An app serving `searcher`; `limits` is the `searcher_server` section; `token` (None: none asked)."""
    engine = Engine(searcher, limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        engine.start()
        yield
        await engine.stop()

    app = FastAPI(title="s3 searcher", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.add_middleware(BodyLimits, max_bytes=limits.max_body_bytes, timeout_s=limits.body_timeout_s)
    if token:
        app.add_middleware(BearerToken, token=token)  # outermost: refused before the body is read

    async def answered(request: SearchRequest) -> list[dict[str, Any]]:
        try:
            return await engine.run(request)
        except ServiceError as exc:  # the retriever or a generator server is gone: say so
            raise HTTPException(503, str(exc)) from exc

    @app.get("/health")
    async def health() -> dict[str, Any]:
        generator = searcher.generator.name if searcher.generator else None
        return {
            "status": "ok",
            "searcher": searcher.model,
            "retriever": searcher.retriever,
            "generator": generator,
            "s3core": __version__,
        }

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return engine.stats.snapshot()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": searcher.model, "object": "model", "created": 0, "owned_by": "s3core"}],
        }

    async def search(http: Request) -> JSONResponse:
        request = parse_search(json_object(await http.body(), ""), limits)
        generator = searcher.generator.name if searcher.generator else None
        return JSONResponse({"model": searcher.model, "generator": generator, "results": await answered(request)})

    async def chat(http: Request) -> JSONResponse:
        question = last_user_message(json_object(await http.body(), ""))
        check_questions([question], limits)
        [result] = await answered(SearchRequest([question]))
        return JSONResponse(completion(searcher.model, result))

    app.router.add_route("/search", search, methods=["POST"])
    app.router.add_route("/v1/chat/completions", chat, methods=["POST"])
    return app


# --- building it -------------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve beyond this machine
        return False


def load_token(host: str, required: bool, token_file: Path | None, env: str) -> str | None:
    """The bearer token: from `token_file` (mode 0600: no access for group or others), else environment variable
    `env`; required when `host` is beyond loopback or `required`. Never logged."""
    if token_file:
        if not token_file.is_file():
            raise ConfigError(f"--token-file {token_file}: no such file")
        if stat.S_IMODE(token_file.stat().st_mode) & 0o077:
            raise ConfigError(f"--token-file {token_file} is readable by others: chmod 600 {token_file}")
        token = token_file.read_text().strip()
        if not token:
            raise ConfigError(f"--token-file {token_file} is empty: write the token into it")
        return token
    if token := os.environ.get(env, "").strip():
        return token
    if required or not is_loopback(host):
        raise ConfigError(
            f"serving on {host} needs a bearer token: set the environment variable {env} (searcher_server.token_env) "
            "or pass --token-file FILE (mode 0600)"
        )
    return None


def _retriever_search(stack: ExitStack, kind: str, access: RetrieverAccess) -> tuple[AsyncSearch, str]:
    """The retriever as an async search returning Documents, and its name: a running server (`access.url`) or the
    index and corpus loaded in this process."""
    if access.url:
        from s3core.retrieval.client import RetrieverClient

        client = RetrieverClient(access.url, access.retriever.client)
        stack.callback(client.close)
        return (lambda queries, topk: asyncio.to_thread(client.search, queries, topk)), access.url
    if not (access.index and access.corpus):
        raise ConfigError(
            "serve --kind searcher needs --retriever-url, or --index and --corpus of the searcher's index"
        )
    from s3core.retrieval.base import load_retriever
    from s3core.retrieval.server import search_coroutine

    retriever = load_retriever(kind, access.index, access.corpus, access.retriever)
    if hasattr(retriever, "close"):
        stack.callback(retriever.close)
    hits_of, _ = search_coroutine(retriever)

    async def search(queries: list[str], topk: int) -> list[list[Document]]:
        return [[doc for doc, _ in row] for row in await hits_of(queries, topk)]

    return search, f"{kind}:{access.index}"


def build_searcher(stack: ExitStack, job: JobConfig, access: RetrieverAccess, generator: str | None) -> Searcher:
    """The searcher `job.searcher.model` with its retriever (`job.search.retriever`) and generator (None: none)."""
    from s3core.generation import load_generator
    from s3core.methods.s3 import searcher_policy
    from s3core.search.prompt import load_prompt

    if generator:
        Answering(generator, job.generators, job.judge).check()
    search, retriever = _retriever_search(stack, job.search.retriever, access)
    policy = stack.enter_context(searcher_policy(job.searcher))
    answering = load_generator(generator, job.generators[generator]) if generator else None
    prompt = load_prompt(job.searcher.prompt_file)
    return Searcher(job.searcher.model, policy, search, retriever, job.search, prompt, answering)


def serve_searcher(
    job: JobConfig,
    access: RetrieverAccess,
    generator: str | None,
    host: str | None,
    port: int,
    require_token: bool = False,
    token_file: Path | None = None,
) -> None:
    """Serve until stopped, on `host` (default `searcher_server.host`); the token as `load_token` finds it."""
    import uvicorn

    limits = job.searcher_server
    host = host or limits.host
    token = load_token(host, require_token, token_file, limits.token_env)
    with ExitStack() as stack:
        searcher = build_searcher(stack, job, access, generator)
        log.info(
            "searcher %s on http://%s:%d (retriever %s, generator %s, bearer token %s)",
            searcher.model,
            host,
            port,
            searcher.retriever,
            generator,
            "required" if token else "off",
        )
        uvicorn.run(create_app(searcher, limits, token), host=host, port=port, log_level="warning")

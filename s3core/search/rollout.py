"""Drive many s3 episodes in lock-step: one policy batch per turn, one retriever request per turn.

The loop is written once, as a coroutine over an async `generate` and `search`: the local trainer and
inference run it with their synchronous policy and retriever client (`run_episodes`); verl's agent loop awaits
it with its rollout server and an async retriever call (`s3core.verl_engine.agent_loop`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from s3core.config.sections import SearchConfig
from s3core.data.corpus import Document
from s3core.search.episode import Episode
from s3core.search.policy import Policy
from s3core.search.prompt import SearcherPrompt

Search = Callable[[list[str], int], list[list[Document]]]
AsyncSearch = Callable[[list[str], int], Awaitable[list[list[Document]]]]
AsyncGenerate = Callable[[list[list[int]], int, float], Awaitable[list[list[int]]]]


async def drive_episodes(
    episodes: list[Episode],
    generate: AsyncGenerate,
    search: AsyncSearch,
    search_config: SearchConfig,
    temperature: float,
) -> None:
    """Play every episode to its end: the searching rounds, then one final turn without search."""
    rounds = search_config.rounds
    for round_no in range(rounds + 1):
        active = [e for e in episodes if not e.done]
        if not active:
            return
        replies = await generate([e.ids for e in active], search_config.max_new_tokens, temperature)
        actions = [e.respond(reply) for e, reply in zip(active, replies)]
        if round_no == rounds:
            for episode in active:
                episode.finish()
            return
        await step(active, actions, search, search_config.topk)


async def step(active: list[Episode], actions: list[Any], search: AsyncSearch, topk: int) -> None:
    """Apply one round of actions: end, search (all queries in one request), or correct."""
    searching = [(e, a.query) for e, a in zip(active, actions) if a.query and not a.complete]
    results = await search([q for _, q in searching], topk) if searching else []
    for (episode, query), docs in zip(searching, results):
        episode.add_information(query, docs)
    for episode, action in zip(active, actions):
        if action.complete:
            episode.finish()
        elif not action.query:
            episode.add_correction()
        episode.check_budget()


def run_episodes(
    episodes: list[Episode], policy: Policy, search: Search, search_config: SearchConfig, temperature: float
) -> None:
    """`drive_episodes` with a synchronous policy and retriever (local trainer, inference)."""

    async def generate(contexts: list[list[int]], max_new_tokens: int, temp: float) -> list[list[int]]:
        return policy.generate(contexts, max_new_tokens, temp)

    async def search_now(queries: list[str], topk: int) -> list[list[Document]]:
        return search(queries, topk)

    asyncio.run(drive_episodes(episodes, generate, search_now, search_config, temperature))


def play(
    questions: Sequence[Mapping[str, Any]],
    initial_docs: list[list[Document]],
    policy: Policy,
    search: Search,
    search_config: SearchConfig,
    temperature: float,
    prompt: SearcherPrompt = SearcherPrompt(),
) -> list[Episode]:
    """One finished episode per question, started from its naive-RAG documents."""
    episodes = [Episode(q, docs, policy.tokenizer, search_config, prompt) for q, docs in zip(questions, initial_docs)]
    run_episodes(episodes, policy, search, search_config, temperature)
    return episodes

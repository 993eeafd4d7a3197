"""s3's searcher as a verl agent loop: one episode per dataset row, played by the shared episode coroutine
(`s3core.search.rollout.drive_episodes`) against verl's rollout servers, rewarded Gain Beyond RAG.

verl builds one loop object per sample, so the retriever client, the frozen generator and the judge are made
once per worker process from the services file that `launch` writes (`services(path)`). verl's V1 trainer logs an
agent loop's exception and trains on without the sample, so a failed episode is also recorded in the failures file,
which fails the job when verl is done; each episode's statistics go to the stats file, merged per step into
`metrics.jsonl`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput

from s3core.config.sections import ClientConfig, RewardConfig, SearchConfig, build, section
from s3core.data.corpus import Document
from s3core.data.jsonl import append_jsonl
from s3core.generation import load_answerers
from s3core.retrieval.client import RetrieverClient
from s3core.search.episode import Episode
from s3core.search.policy import STOP_STRINGS
from s3core.search.prompt import load_prompt
from s3core.search.reward import initial_docs, score_episodes
from s3core.search.rollout import drive_episodes
from s3core.verl_engine.data import check_first_prompt, item_of


class Services:
    """What every episode of a worker shares: config sections, the retriever client, the generator and the judge."""

    def __init__(self, spec: dict[str, Any]):
        self.search: SearchConfig = section("search", spec["search"])
        self.reward: RewardConfig = section("reward", spec["reward"])
        self.retriever = RetrieverClient(spec["retriever_url"], build(ClientConfig, spec["retriever_client"]))
        generators, judge = section("generators", spec["generators"]), section("judge", spec["judge"])
        self.generator, self.judge = load_answerers(spec["generator"], generators, judge)
        self.prompt = load_prompt(spec["prompt_file"])
        self.failures, self.stats = Path(spec["failures_path"]), Path(spec["stats_path"])


@functools.cache
def services(path: str) -> Services:
    """The services described by the JSON file at `path`, built once per process."""
    with open(path) as handle:
        return Services(json.load(handle))


def trim_trailing_observation(ids: list[int], mask: list[int]) -> tuple[list[int], list[int]]:
    """The response without its trailing observation tokens: verl scores the last response token, and GAE carries
    the reward back only from tokens the policy generated (mask 1)."""
    end = len(mask)
    while end and not mask[end - 1]:
        end -= 1
    return ids[:end], mask[:end]


class S3AgentLoop(AgentLoopBase):
    """The agent loop verl instantiates per sample (`agent_name: s3_searcher`)."""

    def __init__(self, *args: Any, services_path: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.services = services(services_path)
        self.response_length = self.rollout_config.response_length
        self.request_id = uuid4().hex  # one per episode: the rollout router keeps its turns on one server
        self.weight_versions: list[Any] = []

    async def _generate(
        self, sampling_params: dict[str, Any], contexts: list[list[int]], max_new_tokens: int, temperature: float
    ) -> list[list[int]]:
        """One rollout-server request per context; a turn stops after `</query>` (kept in the output)."""
        params = {
            **sampling_params,
            "temperature": temperature,
            "max_tokens": max_new_tokens,
            "stop": STOP_STRINGS,
            "include_stop_str_in_output": True,
            "logprobs": False,
        }
        outputs = await asyncio.gather(
            *(
                self.server_manager.generate(
                    request_id=self.request_id, prompt_ids=list(ids), sampling_params=dict(params)
                )
                for ids in contexts
            )
        )
        for output in outputs:
            self.weight_versions.append(output.extra_fields)
        return [list(output.token_ids) for output in outputs]

    async def _search(self, queries: list[str], topk: int) -> list[list[Document]]:
        return await asyncio.to_thread(self.services.retriever.search, queries, topk)

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        item = item_of(kwargs["extra_info"])
        try:
            return await self._play(item, sampling_params, kwargs.get("global_steps"))
        except Exception as exc:
            append_jsonl(self.services.failures, [{"id": item["id"], "error": f"{type(exc).__name__}: {exc}"}])
            raise

    async def _play(self, item: dict[str, Any], sampling_params: dict[str, Any], step: Any) -> AgentLoopOutput:
        search = self.services.search
        episode = Episode(item, initial_docs(item, search.initial_topk), self.tokenizer, search, self.services.prompt)
        check_first_prompt(item, episode.prompt_length, self.rollout_config.prompt_length)
        began = time.perf_counter()
        generate = functools.partial(self._generate, sampling_params)
        await drive_episodes([episode], generate, self._search, search, sampling_params["temperature"])
        played = time.perf_counter()
        [(reward, info)] = await asyncio.to_thread(
            score_episodes, [item], [episode], self.services.generator, self.services.judge, self.services.reward
        )
        stats = {key: float(value) for key, value in info.items()}
        append_jsonl(self.services.stats, [{"step": None if step is None else int(step), **stats}])
        metrics = AgentLoopMetrics(generate_sequences=played - began, compute_score=time.perf_counter() - played)
        response, mask = trim_trailing_observation(
            episode.ids[episode.prompt_length :][: self.response_length],
            episode.action_mask[episode.prompt_length :][: self.response_length],
        )
        return AgentLoopOutput(
            prompt_ids=episode.ids[: episode.prompt_length],
            response_ids=response,
            response_mask=mask,
            reward_score=reward,
            num_turns=1 + 2 * episode.turns,
            metrics=metrics,
            extra_fields={"reward_extra_info": stats, **self._weight_version_span()},
        )

    def _weight_version_span(self) -> dict[str, Any]:
        """The rollout weights' versions the episode spanned, as verl's own loops report them: the first turn's
        `min_global_steps`, the last turn's `max_global_steps` (verl's staleness control and step metrics)."""
        if not self.weight_versions:
            return {}
        return {
            "min_global_steps": self.weight_versions[0].get("min_global_steps"),
            "max_global_steps": self.weight_versions[-1].get("max_global_steps"),
        }

"""The s3 training environment: episodes over naive-RAG cache rows, scored by the frozen generator (GBR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from s3core.config.sections import RewardConfig, SearchConfig
from s3core.generation import Generator
from s3core.search.policy import STOP_STRINGS, Policy
from s3core.search.prompt import SearcherPrompt
from s3core.search.reward import initial_docs, score_episodes
from s3core.search.rollout import Search, play
from s3core.train.trainer import Trajectory


@dataclass(frozen=True)
class S3Environment:
    """Rollouts for PPO: play episodes (`search` runs their queries), answer their selected documents with the
    frozen `generator` (and `judge`), reward Gain Beyond RAG."""

    search: Search
    generator: Generator
    judge: Generator | None
    search_config: SearchConfig
    reward: RewardConfig
    prompt: SearcherPrompt = SearcherPrompt()
    stop_strings: ClassVar[list[str]] = STOP_STRINGS

    def rollout(self, items: list[dict[str, Any]], policy: Policy, temperature: float) -> list[Trajectory]:
        """`items` are naive-RAG cache rows (question, golds, docs, RAG GenAcc)."""
        initial = [initial_docs(row, self.search_config.initial_topk) for row in items]
        episodes = play(items, initial, policy, self.search, self.search_config, temperature, self.prompt)
        scored = score_episodes(items, episodes, self.generator, self.judge, self.reward)
        return [Trajectory(e.ids, e.action_mask, score, info) for e, (score, info) in zip(episodes, scored)]

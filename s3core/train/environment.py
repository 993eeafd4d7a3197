"""The s3 training environment: episodes over naive-RAG cache rows, scored by the frozen generator (GBR)."""

from __future__ import annotations

from typing import Any

from s3core.corpus import Document
from s3core.evaluate import answer_contexts
from s3core.generation import Generator
from s3core.methods import context_row
from s3core.search.episode import Episode
from s3core.search.policy import STOP_STRINGS, Policy
from s3core.search.prompt import SearcherPrompt
from s3core.search.rollout import Search, play
from s3core.train.reward import gain_beyond_rag, metric_value
from s3core.train.trainer import Trajectory


def initial_docs(item: dict[str, Any], topk: int) -> list[Document]:
    """The naive-RAG documents a cache row's episode starts from."""
    return [Document.from_row(d) for d in item["docs"][:topk]]


def score_episodes(
    items: list[dict[str, Any]],
    episodes: list[Episode],
    generator: Generator,
    judge: Generator | None,
    reward: dict[str, Any],
) -> list[tuple[float, dict[str, float]]]:
    """(reward, facts) per finished episode: the generator answers from its selected documents; the reward is
    Gain Beyond RAG (`reward.form`) in `reward.metric` against the row's cached naive-RAG answer."""
    metric = reward["metric"]
    contexts = [context_row(row, "s3", [d.to_dict() for d in e.selected_docs()]) for row, e in zip(items, episodes)]
    answers = answer_contexts(contexts, generator, judge, context_format="selected", judge_every_row=metric == "judge")
    scored = []
    for row, episode, answer in zip(items, episodes, answers):
        ours, rag = metric_value(answer, metric), metric_value(row, metric)
        info = {"genacc": answer["genacc"], "rag_genacc": row["genacc"], "gbr": ours - rag, **episode.stats()}
        scored.append((gain_beyond_rag(ours, rag, reward["form"]), info))
    return scored


class S3Environment:
    """Rollouts for PPO: play episodes, answer their selected documents, reward Gain Beyond RAG."""

    stop_strings = STOP_STRINGS

    def __init__(
        self,
        search: Search,
        generator: Generator,
        judge: Generator | None,
        search_settings: dict[str, Any],
        reward: dict[str, Any],
        prompt: SearcherPrompt = SearcherPrompt(),
    ):
        self.search = search
        self.generator = generator
        self.judge = judge
        self.settings = search_settings
        self.reward = reward
        self.prompt = prompt

    def rollout(self, items: list[dict[str, Any]], policy: Policy, temperature: float) -> list[Trajectory]:
        """`items` are naive-RAG cache rows (question, golds, docs, RAG GenAcc)."""
        initial = [initial_docs(row, self.settings["initial_topk"]) for row in items]
        episodes = play(items, initial, policy, self.search, self.settings, temperature, self.prompt)
        scored = score_episodes(items, episodes, self.generator, self.judge, self.reward)
        return [Trajectory(e.ids, e.action_mask, score, info) for e, (score, info) in zip(episodes, scored)]

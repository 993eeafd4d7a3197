"""One PPO update from a batch of finished trajectories: old/reference log-probs and values, KL-in-reward,
GAE, then clipped actor and critic updates over shuffled mini-batches (accumulated micro-batches).

When the whole batch is one epoch's one mini-batch and one micro-batch, the networks are still the rollout's when
the update's forward pass runs, so that pass gives the old log-probs and values too (the PPO ratio is exactly 1, as
it is up to float noise when they are scored apart): two forward passes fewer a step."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from s3core.config.sections import TrainConfig
from s3core.train import ppo
from s3core.train.models import ValueModel, autocast, token_logprobs, token_values

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class Trajectory:
    """A rollout: its token ids, which of them the policy wrote, the sequence's score, and episode facts."""

    ids: list[int]
    action_mask: list[int]
    score: float
    info: dict[str, float] = field(default_factory=dict)


@dataclass
class Batch:
    """Right-padded tensors; token-level tensors are aligned with targets ids[:, 1:]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mask: torch.Tensor
    scores: torch.Tensor

    def select(self, rows: torch.Tensor | slice) -> Batch:
        return Batch(self.input_ids[rows], self.attention_mask[rows], self.mask[rows], self.scores[rows])


@dataclass
class Targets:
    """What the losses compare against, per token: the rollout's log-probs and values, advantages and returns."""

    old_logp: torch.Tensor
    old_values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def select(self, rows: torch.Tensor | slice) -> Targets:
        return Targets(self.old_logp[rows], self.old_values[rows], self.advantages[rows], self.returns[rows])


def pack(trajectories: list[Trajectory], pad_id: int, device: torch.device) -> Batch:
    """Pad trajectories to one length (right padding)."""
    length = max(len(t.ids) for t in trajectories)
    ids = torch.full((len(trajectories), length), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    action = torch.zeros_like(ids, dtype=torch.float32)
    for row, t in enumerate(trajectories):
        ids[row, : len(t.ids)] = torch.tensor(t.ids)
        attention[row, : len(t.ids)] = 1
        action[row, : len(t.ids)] = torch.tensor(t.action_mask, dtype=torch.float32)
    scores = torch.tensor([t.score for t in trajectories], dtype=torch.float32)
    return Batch(ids.to(device), attention.to(device), action[:, 1:].to(device), scores.to(device))


class PPOTrainer:
    """Owns the actor, critic, reference and their optimisers; `update` is one PPO step."""

    def __init__(
        self,
        actor: PreTrainedModel,
        critic: ValueModel,
        reference: PreTrainedModel | None,
        ppo_config: TrainConfig,
        temperature: float,
        pad_id: int,
        mixed_precision: bool,
    ):
        self.actor, self.critic, self.reference = actor, critic, reference
        self.ppo_config = ppo_config
        self.temperature = temperature
        self.pad_id = pad_id
        self.device = next(actor.parameters()).device
        self.mixed_precision = mixed_precision
        self.actor_optimizer = torch.optim.AdamW(actor.parameters(), lr=ppo_config.actor_lr)
        self.critic_optimizer = torch.optim.AdamW(critic.parameters(), lr=ppo_config.critic_lr)

    def _micro_batches(self, batch: Batch) -> list[Batch]:
        size = self.ppo_config.micro_batch_size
        return [batch.select(slice(i, i + size)) for i in range(0, batch.input_ids.shape[0], size)]

    @torch.no_grad()
    def _score_tokens(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Old log-probs, reference log-probs (None without KL) and old values, micro-batch by micro-batch."""
        old, ref, values = [], [], []
        with autocast(self.device, self.mixed_precision):
            for micro in self._micro_batches(batch):
                tokens = (micro.input_ids, micro.attention_mask, micro.mask, self.temperature)
                old.append(token_logprobs(self.actor, *tokens)[0])
                if (ref_logp := self._reference_logprobs(micro)) is not None:
                    ref.append(ref_logp)
                values.append(token_values(self.critic, micro.input_ids, micro.attention_mask))
        return torch.cat(old), torch.cat(ref) if ref else None, torch.cat(values)

    def update(self, trajectories: list[Trajectory], seed: int) -> dict[str, float]:
        """One PPO step; returns the step's statistics (means over action tokens)."""
        self.actor.train()
        self.critic.train()
        batch = pack(trajectories, self.pad_id, self.device)
        if self._one_pass(len(trajectories)):
            return self._one_pass_update(batch)
        began = time.perf_counter()
        old_logp, ref_logp, old_values = self._score_tokens(batch)
        scored = time.perf_counter()
        cfg = self.ppo_config
        targets, stats = self._targets(batch, old_logp, ref_logp, old_values)
        generator = torch.Generator().manual_seed(seed)
        size = len(trajectories)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(size, generator=generator)
            for start in range(0, size, cfg.mini_batch_size):
                rows = order[start : start + cfg.mini_batch_size].to(self.device)
                for key, value in self._mini_batch_step(batch.select(rows), targets.select(rows)).items():
                    stats[key].append(value)
        return self._step_stats(stats, began, scored)

    def _one_pass(self, size: int) -> bool:
        """Whether the batch is one epoch's only mini-batch and only micro-batch."""
        cfg = self.ppo_config
        return cfg.ppo_epochs == 1 and min(cfg.mini_batch_size, cfg.micro_batch_size) >= size

    def _one_pass_update(self, batch: Batch) -> dict[str, float]:
        """The update whose forward pass also scores the batch (see the module's docstring)."""
        began = time.perf_counter()
        self._zero_grad()
        forward = self._forward(batch)
        ref_logp = self._reference_logprobs(batch)
        scored = time.perf_counter()
        logp, _, values = forward
        targets, stats = self._targets(batch, logp.detach(), ref_logp, values.detach())
        totals: dict[str, float] = defaultdict(float)
        self._backward(batch.mask, batch.mask.sum().clamp(min=1), forward, targets, totals)
        for key, value in self._optimiser_step(totals).items():
            stats[key].append(value)
        return self._step_stats(stats, began, scored)

    @torch.no_grad()
    def _reference_logprobs(self, batch: Batch) -> torch.Tensor | None:
        if self.reference is None:
            return None
        with autocast(self.device, self.mixed_precision):
            args = (batch.input_ids, batch.attention_mask, batch.mask, self.temperature)
            return token_logprobs(self.reference, *args)[0]

    def _targets(
        self, batch: Batch, old_logp: torch.Tensor, ref_logp: torch.Tensor | None, old_values: torch.Tensor
    ) -> tuple[Targets, dict[str, list[float]]]:
        """KL-in-reward, GAE and whitening; the statistics start with the rollout's KL to the reference."""
        cfg = self.ppo_config
        rewards = ppo.token_rewards(batch.scores, old_logp, ref_logp, batch.mask, cfg.kl_coef)
        advantages, returns = ppo.gae(rewards, old_values, batch.mask, cfg.gamma, cfg.lam)
        stats: dict[str, list[float]] = defaultdict(list)
        if ref_logp is not None:
            stats["kl"].append(ppo.masked_mean(old_logp - ref_logp, batch.mask).item())
        return Targets(old_logp, old_values, ppo.masked_whiten(advantages, batch.mask), returns), stats

    @staticmethod
    def _step_stats(stats: dict[str, list[float]], began: float, scored: float) -> dict[str, float]:
        """Means of the step's statistics, with where its time went: scoring the rollouts (actor, reference and
        critic forward passes) vs the forward + backward passes and optimiser steps."""
        stats["score_s"].append(scored - began)
        stats["optimise_s"].append(time.perf_counter() - scored)
        return {key: sum(v) / len(v) for key, v in stats.items()}

    def _mini_batch_step(self, batch: Batch, targets: Targets) -> dict[str, float]:
        """Accumulate token-mean losses over micro-batches, clip gradients, step both optimisers."""
        tokens = batch.mask.sum().clamp(min=1)
        totals: dict[str, float] = defaultdict(float)
        self._zero_grad()
        size = self.ppo_config.micro_batch_size
        for start in range(0, batch.input_ids.shape[0], size):
            part = slice(start, start + size)
            micro = batch.select(part)
            self._backward(micro.mask, tokens, self._forward(micro), targets.select(part), totals)
        return self._optimiser_step(totals)

    def _forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The actor's log-probs and entropies and the critic's values, with gradients."""
        with autocast(self.device, self.mixed_precision):
            logp, entropy = token_logprobs(
                self.actor, batch.input_ids, batch.attention_mask, batch.mask, self.temperature, with_entropy=True
            )
            assert entropy is not None  # asked for with_entropy
            values = token_values(self.critic, batch.input_ids, batch.attention_mask)
        return logp, entropy, values

    def _backward(
        self,
        mask: torch.Tensor,
        tokens: torch.Tensor,
        forward: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        targets: Targets,
        totals: dict[str, float],
    ) -> None:
        """Back-propagate the clipped losses of one `_forward` (token sums over the mini-batch's `tokens`) and
        add its statistics to `totals`."""
        cfg = self.ppo_config
        logp, entropy, values = forward
        pg, pg_clipped = ppo.policy_loss(logp, targets.old_logp, targets.advantages, cfg.clip)
        vf, vf_clipped = ppo.value_loss(values, targets.old_values, targets.returns, cfg.value_clip)
        pg_sum, ent_sum = ppo.masked_sum(pg, mask), ppo.masked_sum(entropy, mask)
        ((pg_sum - cfg.entropy_coef * ent_sum) / tokens).backward()
        vf_sum = ppo.masked_sum(vf, mask)
        (vf_sum / tokens).backward()
        for key, value in (
            ("policy_loss", pg_sum),
            ("entropy", ent_sum),
            ("value_loss", vf_sum),
            ("clip_fraction", ppo.masked_sum(pg_clipped, mask)),
            ("value_clip_fraction", ppo.masked_sum(vf_clipped, mask)),
            ("approx_kl", ppo.masked_sum(targets.old_logp - logp.detach(), mask)),
        ):
            totals[key] += value.item() / tokens.item()

    def _zero_grad(self) -> None:
        self.actor_optimizer.zero_grad(set_to_none=True)
        self.critic_optimizer.zero_grad(set_to_none=True)

    def _optimiser_step(self, totals: dict[str, float]) -> dict[str, float]:
        """Clip both networks' gradients and step their optimisers; returns `totals` with the gradient norms."""
        cfg = self.ppo_config
        totals["actor_grad_norm"] = nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip).item()
        totals["critic_grad_norm"] = nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.grad_clip).item()
        self.actor_optimizer.step()
        self.critic_optimizer.step()
        return dict(totals)

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])

"""PPO math on token tensors [batch, tokens] with a 0/1 mask of the policy's own tokens (verl conventions).

Observation tokens are masked out: they get no reward, no KL, no loss, and GAE skips over them, so the value
of an action token bootstraps from the next *action* token of the same sequence.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def masked_sum(values: Tensor, mask: Tensor) -> Tensor:
    return (values * mask).sum()


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    return masked_sum(values, mask) / mask.sum().clamp(min=1)


def masked_whiten(values: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Zero mean, unit variance over the masked entries (unbiased variance, as verl)."""
    mean = masked_mean(values, mask)
    count = mask.sum()
    var = masked_sum((values - mean) ** 2, mask) / (count - 1).clamp(min=1)
    return (values - mean) * torch.rsqrt(var + eps) * mask


def token_rewards(scores: Tensor, logp: Tensor, ref_logp: Tensor | None, mask: Tensor, kl_coef: float) -> Tensor:
    """Per-token rewards: −kl_coef·(logp − ref_logp) on action tokens, plus each sequence's score on its
    last action token."""
    rewards = torch.zeros_like(logp)
    if ref_logp is not None and kl_coef:
        rewards = -kl_coef * (logp - ref_logp) * mask
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, -1).max(dim=1).values
    rows = torch.nonzero(last >= 0).squeeze(1)
    rewards[rows, last[rows]] += scores[rows].to(rewards.dtype)
    return rewards


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation over action tokens only; returns (advantages, returns)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    next_value = torch.zeros_like(running)
    for t in reversed(range(rewards.shape[1])):
        active = mask[:, t].bool()
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        estimate = delta + gamma * lam * running
        advantages[:, t] = torch.where(active, estimate, 0.0)
        running = torch.where(active, estimate, running)
        next_value = torch.where(active, values[:, t], next_value)
    returns = (advantages + values) * mask
    return advantages, returns


def policy_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, clip: float) -> tuple[Tensor, Tensor]:
    """Per-token clipped surrogate loss and whether the clip was active there."""
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.maximum(unclipped, clipped), (clipped > unclipped).float()


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, clip: float) -> tuple[Tensor, Tensor]:
    """Per-token clipped value loss 0.5·max((v − R)², (v_clip − R)²) and whether the clip was active."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped = (values - returns) ** 2
    clipped = (clipped_values - returns) ** 2
    return 0.5 * torch.maximum(unclipped, clipped), (clipped > unclipped).float()


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of the softmax over the last dimension."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)

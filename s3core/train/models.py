"""The three networks of PPO: actor (the searcher), critic (a value head on its own backbone) and the frozen
reference; plus per-token log-probabilities and values of padded sequences."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from s3core.train.ppo import entropy_from_logits

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class ValueModel(nn.Module):
    """A transformer backbone with a scalar head: one value per token position."""

    def __init__(self, backbone: PreTrainedModel):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden.float()).squeeze(-1)


def enable_checkpointing(network: PreTrainedModel) -> None:
    """Non-reentrant activation checkpointing; transformers renamed the switch in 5.x (the training env pins
    an older 5.x for verl)."""
    enable = getattr(network, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        network.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def load_models(
    path: str, device: torch.device, with_reference: bool, gradient_checkpointing: bool
) -> tuple[PreTrainedModel, ValueModel, PreTrainedModel | None]:
    """Actor, critic and (when the KL penalty is on) reference, all initialised from `path`.
    Trained weights stay float32; `autocast` gives bfloat16 compute on CUDA. Gradient checkpointing trades
    recomputation for activation memory in the two trained networks (upstream turns it on)."""
    from transformers import AutoModel, AutoModelForCausalLM

    actor = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers' stub of .to()
    critic = ValueModel(AutoModel.from_pretrained(path, dtype=torch.float32)).to(device)
    if gradient_checkpointing:
        for network in (actor, critic.backbone):
            enable_checkpointing(network)
    reference = None
    if with_reference:
        ref_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        reference = AutoModelForCausalLM.from_pretrained(path, dtype=ref_dtype)
        reference = reference.to(device).eval()  # type: ignore[arg-type]  # transformers' stub of .to()
        reference.requires_grad_(False)
    return actor, critic, reference


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA when asked; a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(token t | tokens < t) for t = 1..L-1 (shape [B, L-1]) at the rollout temperature, and the
    entropy of each of those distributions when asked; both are computed only where `mask` ([B, L-1]) is
    set and are 0 elsewhere, so the vocabulary-sized logits exist for the generated tokens alone."""
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1]
    where = mask.bool()
    logits = model.get_output_embeddings()(hidden[where]).float() / temperature
    picked = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:][where][:, None]).squeeze(-1)
    logp = torch.zeros(mask.shape, dtype=picked.dtype, device=picked.device).masked_scatter(where, picked)
    if not with_entropy:
        return logp, None
    entropy = torch.zeros_like(logp).masked_scatter(where, entropy_from_logits(logits))
    return logp, entropy


def token_values(critic: ValueModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The critic's value of the state before token t, for t = 1..L-1 (aligned with `token_logprobs`)."""
    return critic(input_ids, attention_mask)[:, :-1]

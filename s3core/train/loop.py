"""`s3core train`: PPO steps over the training pool with checkpoints, resume, logs and a progress bar."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from s3core.config.sections import SearcherConfig, TrainConfig
from s3core.config.training_fingerprint import guard
from s3core.data.atomic import atomic_folder
from s3core.errors import ConfigError
from s3core.search.hf_policy import HFPolicy, load_tokenizer
from s3core.search.policy import Policy
from s3core.search.reward import gain_shares
from s3core.serving.devices import pick_device, pick_dtype
from s3core.train import checkpoint
from s3core.train.logbook import Logbook
from s3core.train.models import autocast, load_models
from s3core.train.trainer import PPOTrainer, Trajectory


class Environment(Protocol):
    """Turns training items into scored trajectories with the current policy; a turn of the policy ends at
    one of `stop_strings` (or EOS)."""

    @property
    def stop_strings(self) -> list[str] | None: ...

    def rollout(self, items: list[dict[str, Any]], policy: Policy, temperature: float) -> list[Trajectory]: ...


def items_for_step(pool: list[dict[str, Any]], step: int, batch_size: int, seed: int) -> list[dict[str, Any]]:
    """Step `step`'s questions: consecutive slices of per-epoch shuffles (so a resumed run sees the same)."""
    order: list[int] = []
    epoch = 0
    while len(order) < (step + 1) * batch_size:
        order += random.Random(seed + epoch).sample(range(len(pool)), len(pool))
        epoch += 1
    return [pool[i] for i in order[step * batch_size : (step + 1) * batch_size]]


def step_metrics(
    step: int, trajectories: list[Trajectory], stats: dict[str, float], rollout_s: float, update_s: float
) -> dict[str, float]:
    """One logbook row: means of the episodes' facts, the update statistics, and speeds."""
    row: dict[str, float] = {"step": step, "reward": _mean([t.score for t in trajectories])}
    for key in trajectories[0].info:
        row[key] = _mean([t.info[key] for t in trajectories])
    if "gbr" in trajectories[0].info:
        row.update(gain_shares([t.info["gbr"] for t in trajectories]))
    generated = sum(sum(t.action_mask) for t in trajectories)
    row.update(stats)
    row.update(
        sequence_tokens=_mean([len(t.ids) for t in trajectories]),
        rollout_s=rollout_s,
        update_s=update_s,
        rollout_tokens_per_s=generated / max(rollout_s, 1e-9),
        update_tokens_per_s=sum(len(t.ids) for t in trajectories) / max(update_s, 1e-9),
    )
    return row


def _mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


def train(
    pool: list[dict[str, Any]],
    environment: Environment,
    model_path: str,
    out: Path,
    train_config: TrainConfig,
    searcher: SearcherConfig,
    temperature: float,
    shaping: dict[str, Any],
) -> list[dict[str, float]]:
    """Run `train_config.steps` PPO steps (resuming from the newest checkpoint in `out/checkpoints` when it was
    trained with `shaping`, the settings that shape training: `s3core.config.training_fingerprint.fingerprint`);
    save the trained searcher to `out/searcher` and return the logbook rows."""
    if temperature <= 0:
        raise ConfigError(
            "config key 'search.temperature': PPO needs sampled rollouts (> 0); inference is greedy anyway"
        )
    if not pool:
        raise ConfigError("the training pool is empty: raise assets.train.size or turn off train.drop_rag_correct")
    guard(out / "checkpoints", shaping, "step_*")
    device = pick_device(searcher.device)
    mixed = pick_dtype(searcher.dtype, device) == torch.bfloat16
    tokenizer = load_tokenizer(model_path)
    actor, critic, reference = load_models(
        model_path, device, train_config.kl_coef > 0, train_config.gradient_checkpointing
    )
    trainer = PPOTrainer(actor, critic, reference, train_config, temperature, tokenizer.pad_token_id, mixed)
    policy = HFPolicy(actor, tokenizer, searcher.batch_size, environment.stop_strings)
    start, history = _resume(out / "checkpoints", trainer, device)
    logbook = Logbook(out / "metrics.jsonl", out / "tensorboard", history)
    steps = train_config.steps
    with checkpoint.Writer(out / "checkpoints") as writer:
        for step in tqdm(range(start, steps), initial=start, total=steps, desc="PPO steps", unit="step"):
            torch.manual_seed(train_config.seed + step)
            items = items_for_step(pool, step, train_config.batch_size, train_config.seed)
            began = time.perf_counter()
            with autocast(device, mixed):
                trajectories = environment.rollout(items, policy, temperature)
            rolled = time.perf_counter()
            writer.wait()  # the previous step's checkpoint is on disk before the weights change
            stats = trainer.update(trajectories, train_config.seed + step)
            logbook.append(step_metrics(step + 1, trajectories, stats, rolled - began, time.perf_counter() - rolled))
            if (step + 1) % train_config.checkpoint_every == 0 or step + 1 == steps:
                state = {"step": step + 1, "trainer": trainer.state_dict(), "history": list(logbook.rows)}
                writer.save(step + 1, state)
    logbook.close()
    _save_searcher(actor, tokenizer, out / "searcher")
    return logbook.rows


def _resume(folder: Path, trainer: PPOTrainer, device: torch.device) -> tuple[int, list[dict[str, float]]]:
    """Load the newest checkpoint into `trainer`; returns (steps done, logbook rows so far)."""
    path = checkpoint.latest(folder)
    if path is None:
        return 0, []
    state = checkpoint.load(path, device)
    trainer.load_state_dict(state["trainer"])
    tqdm.write(f"resuming from {path} (step {state['step']})")
    return state["step"], state["history"]


def _save_searcher(actor: Any, tokenizer: Any, target: Path) -> None:
    """The trained searcher as a Hugging Face folder, published when complete."""
    with atomic_folder(target) as partial:
        actor.save_pretrained(partial)
        tokenizer.save_pretrained(partial)

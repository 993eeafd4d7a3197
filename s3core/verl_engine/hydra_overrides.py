"""s3's `train`, `search` and `searcher` settings as command-line overrides of verl's `ppo_trainer` config.

The values follow upstream s3's `train_s3.sh` through s3's own config keys (docs/design.md §1, PPO); verl-only
knobs live in `train.verl`, and `train.verl.extra_overrides` are appended last, so they win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3core.verl_engine.data import AGENT_NAME


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


def ppo_overrides(train: dict[str, Any], search: dict[str, Any], model: str, parquet: Path) -> dict[str, Any]:
    """Algorithm, data, actor, critic and reference settings."""
    micro = train["micro_batch_size"]
    return {
        "algorithm.adv_estimator": "gae",
        "algorithm.gamma": train["gamma"],
        "algorithm.lam": train["lam"],
        "algorithm.use_kl_in_reward": train["kl_coef"] > 0,
        "algorithm.kl_ctrl.kl_coef": train["kl_coef"],
        "data.train_files": str(parquet),
        "data.val_files": str(parquet),
        "data.train_batch_size": train["batch_size"],
        "data.max_prompt_length": train["verl"]["max_prompt_length"],
        "data.max_response_length": search["max_context_tokens"],
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.seed": train["seed"],
        "actor_rollout_ref.model.path": model,
        "actor_rollout_ref.model.enable_gradient_checkpointing": train["gradient_checkpointing"],
        "actor_rollout_ref.actor.optim.lr": train["actor_lr"],
        "actor_rollout_ref.actor.ppo_mini_batch_size": train["mini_batch_size"],
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": micro,
        "actor_rollout_ref.actor.ppo_epochs": train["ppo_epochs"],
        "actor_rollout_ref.actor.clip_ratio": train["clip"],
        "actor_rollout_ref.actor.entropy_coeff": train["entropy_coef"],
        "actor_rollout_ref.actor.grad_clip": train["grad_clip"],
        "actor_rollout_ref.actor.use_kl_loss": False,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": micro,
        "critic.model.path": model,
        "critic.model.enable_gradient_checkpointing": train["gradient_checkpointing"],
        "critic.optim.lr": train["critic_lr"],
        "critic.cliprange_value": train["value_clip"],
        "critic.ppo_micro_batch_size_per_gpu": micro,
        "critic.grad_clip": train["grad_clip"],
    }


def rollout_overrides(train: dict[str, Any], search: dict[str, Any], agent_loops: Path) -> dict[str, Any]:
    """The rollout engine (vLLM or SGLang), sampling, and s3's agent loop."""
    rollout = train["verl"]["rollout"]
    return {
        "actor_rollout_ref.rollout.name": rollout["name"],
        "actor_rollout_ref.rollout.mode": "async",
        "actor_rollout_ref.rollout.n": 1,
        "actor_rollout_ref.rollout.temperature": search["temperature"],
        "actor_rollout_ref.rollout.tensor_model_parallel_size": rollout["tensor_parallel_size"],
        "actor_rollout_ref.rollout.gpu_memory_utilization": rollout["gpu_memory_utilization"],
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": train["micro_batch_size"],
        "actor_rollout_ref.rollout.agent.agent_loop_config_path": str(agent_loops),
        "actor_rollout_ref.rollout.agent.default_agent_loop": AGENT_NAME,
    }


def trainer_overrides(train: dict[str, Any], checkpoints: Path, nnodes: int, gpus_per_node: int) -> dict[str, Any]:
    """Steps, checkpoints (a restarted job resumes), cluster shape and logging; no validation passes."""
    return {
        "trainer.total_training_steps": train["steps"],
        "trainer.save_freq": train["checkpoint_every"],
        "trainer.default_local_dir": str(checkpoints),
        "trainer.resume_mode": "auto",
        "trainer.nnodes": nnodes,
        "trainer.n_gpus_per_node": gpus_per_node,
        "trainer.logger": ["console", "file", "tensorboard"],
        "trainer.project_name": "s3",
        "trainer.experiment_name": "searcher",
        "trainer.val_before_train": False,
        "trainer.test_freq": -1,
    }


def verl_overrides(train: dict[str, Any], search: dict[str, Any], model: str, parquet: Path, agent_loops: Path,
                   checkpoints: Path, nnodes: int, gpus_per_node: int) -> list[str]:
    """`key=value` strings for `python -m verl.trainer.main_ppo`."""
    settings = {**ppo_overrides(train, search, model, parquet), **rollout_overrides(train, search, agent_loops),
                **trainer_overrides(train, checkpoints, nnodes, gpus_per_node)}
    return [f"{key}={_value(value)}" for key, value in settings.items()] + list(train["verl"]["extra_overrides"])

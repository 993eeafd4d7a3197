"""s3's `train`, `search` and `searcher` settings as command-line overrides of verl's `ppo_trainer` config.

The values follow upstream s3's `train_s3.sh` through s3's own config keys (docs/design.md §1, PPO); verl-only
knobs live in `train.verl`, and `train.verl.extra_overrides` are appended last, so they win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3core.config.sections import SearchConfig, TrainConfig
from s3core.verl_engine.data import AGENT_NAME


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


#: verl's dual clip (a floor of -clip_ratio_c * A on negative advantages) off: upstream's PPO had none; verl needs a
#: value > 1, and one this large never binds.
NO_DUAL_CLIP = 1.0e9


def ppo_overrides(train: TrainConfig, search: SearchConfig, model: str, parquet: Path) -> dict[str, Any]:
    """Algorithm, data, actor, critic and reference settings, each on the key verl 0.9.1's V1 trainer reads."""
    micro = train.micro_batch_size
    offload = train.verl.param_offload
    return {
        "algorithm.adv_estimator": "gae",
        "algorithm.gamma": train.gamma,
        "algorithm.lam": train.lam,
        "algorithm.use_kl_in_reward": train.kl_coef > 0,
        "algorithm.kl_ctrl.kl_coef": train.kl_coef,
        "data.train_files": str(parquet),
        "data.val_files": str(parquet),
        "data.train_batch_size": train.batch_size,
        "data.max_prompt_length": train.verl.max_prompt_length,
        "data.max_response_length": search.max_context_tokens,
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.seed": train.seed,
        "actor_rollout_ref.model.path": model,
        "actor_rollout_ref.model.enable_gradient_checkpointing": train.gradient_checkpointing,
        "actor_rollout_ref.actor.optim.lr": train.actor_lr,
        "actor_rollout_ref.actor.optim.clip_grad": train.grad_clip,
        "actor_rollout_ref.actor.ppo_mini_batch_size": train.mini_batch_size,
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": micro,
        "actor_rollout_ref.actor.use_dynamic_bsz": False,
        "actor_rollout_ref.actor.ppo_epochs": train.ppo_epochs,
        "actor_rollout_ref.actor.clip_ratio_low": train.clip,
        "actor_rollout_ref.actor.clip_ratio_high": train.clip,
        "actor_rollout_ref.actor.clip_ratio_c": NO_DUAL_CLIP,
        "actor_rollout_ref.actor.entropy_coeff": train.entropy_coef,
        "actor_rollout_ref.actor.use_kl_loss": False,
        "actor_rollout_ref.actor.fsdp_config.param_offload": offload,
        "actor_rollout_ref.ref.fsdp_config.param_offload": offload,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": micro,
        "critic.model.path": model,
        "critic.model.enable_gradient_checkpointing": train.gradient_checkpointing,
        "critic.optim.lr": train.critic_lr,
        "critic.optim.clip_grad": train.grad_clip,
        "critic.cliprange_value": train.value_clip,
        "critic.ppo_micro_batch_size_per_gpu": micro,
        # the V1 critic trains with its engine's batching, not the keys above: fixed micro-batches as the actor's
        "+critic.fsdp.use_dynamic_bsz": False,
        "+critic.fsdp.micro_batch_size_per_gpu": micro,
        "+critic.fsdp.infer_micro_batch_size_per_gpu": micro,
    }


def rollout_overrides(train: TrainConfig, search: SearchConfig, agent_loops: Path) -> dict[str, Any]:
    """The vLLM rollout engine, sampling, and s3's agent loop. No rollout log-probs: each turn is decoded and
    re-encoded, so the trained ids are not the sampled ones; verl recomputes the old log-probs."""
    rollout = train.verl.rollout
    return {
        "actor_rollout_ref.rollout.name": "vllm",
        "actor_rollout_ref.rollout.mode": "async",
        "actor_rollout_ref.rollout.n": 1,
        "actor_rollout_ref.rollout.temperature": search.temperature,
        "actor_rollout_ref.rollout.calculate_log_probs": False,
        "actor_rollout_ref.rollout.tensor_model_parallel_size": rollout.tensor_parallel_size,
        "actor_rollout_ref.rollout.gpu_memory_utilization": rollout.gpu_memory_utilization,
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": train.micro_batch_size,
        "actor_rollout_ref.rollout.agent.agent_loop_config_path": str(agent_loops),
        "actor_rollout_ref.rollout.agent.default_agent_loop": AGENT_NAME,
    }


def trainer_overrides(
    train: TrainConfig, checkpoints: Path, nnodes: int, gpus_per_node: int, worker_env: dict[str, str]
) -> dict[str, Any]:
    """verl's V1 trainer, steps, checkpoints (a restarted job resumes; only the last kept), cluster shape, logging
    (`worker_env` reaches every Ray worker, on every node) and no validation passes."""
    keep = train.verl.keep_checkpoints
    overrides = {
        "trainer.use_v1": True,
        "trainer.total_training_steps": train.steps,
        "trainer.save_freq": train.checkpoint_every,
        "trainer.default_local_dir": str(checkpoints),
        "trainer.resume_mode": "auto",
        "trainer.max_actor_ckpt_to_keep": keep,
        "trainer.max_critic_ckpt_to_keep": keep,
        "trainer.nnodes": nnodes,
        "trainer.n_gpus_per_node": gpus_per_node,
        "trainer.logger": ["console", "file", "tensorboard"],
        "trainer.project_name": "s3",
        "trainer.experiment_name": "searcher",
        "trainer.val_before_train": False,
        "trainer.test_freq": -1,
    }
    overrides |= {f"+ray_kwargs.ray_init.runtime_env.env_vars.{key}": value for key, value in worker_env.items()}
    return overrides


def verl_overrides(
    train: TrainConfig,
    search: SearchConfig,
    model: str,
    parquet: Path,
    agent_loops: Path,
    checkpoints: Path,
    nnodes: int,
    gpus_per_node: int,
    worker_env: dict[str, str] | None = None,
) -> list[str]:
    """`key=value` strings for `python -m verl.trainer.main_ppo`."""
    overrides = {
        **ppo_overrides(train, search, model, parquet),
        **rollout_overrides(train, search, agent_loops),
        **trainer_overrides(train, checkpoints, nnodes, gpus_per_node, worker_env or {}),
    }
    return [f"{key}={_value(value)}" for key, value in overrides.items()] + list(train.verl.extra_overrides)

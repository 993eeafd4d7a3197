"""The local PPO engine: PPO math, actor/critic/reference models, the trainer, checkpoints and the s3 reward."""

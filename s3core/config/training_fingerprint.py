"""What a training run's checkpoints were trained with, recorded beside them, so a run resumes only checkpoints
of its own settings (both engines): a changed setting that shapes training is refused, never silently resumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s3core.config.sections import RewardConfig, SearchConfig, TrainConfig, to_dict
from s3core.errors import S3Error

RECORD = "s3_settings.json"
#: Train keys that do not change what the steps done so far did: more steps continue a run; checkpoint spacing
#: and verl's placement of work on GPUs are bookkeeping.
NOT_SHAPING = ("steps", "checkpoint_every", "verl")


def fingerprint(
    train: TrainConfig, search: SearchConfig, reward: RewardConfig, model: str, pool: list[dict[str, Any]]
) -> dict[str, Any]:
    """The settings that shape training, as JSON: PPO (train, but `NOT_SHAPING`), search and reward settings, the
    start model, the questions."""
    return {
        "train": {k: v for k, v in to_dict(train).items() if k not in NOT_SHAPING},
        "search": to_dict(search),
        "reward": to_dict(reward),
        "model": model,
        "questions": [item["id"] for item in pool],
    }


def guard(checkpoints: Path, settings: dict[str, Any], pattern: str) -> None:
    """Resume only checkpoints (`pattern`: their folder names) of `settings`: refuse others, and ones whose settings
    were never recorded; record the settings beside new ones."""
    record = checkpoints / RECORD
    found = sorted(checkpoints.glob(pattern)) if checkpoints.is_dir() else []
    if found and (not record.exists() or json.loads(record.read_text()) != settings):
        raise S3Error(
            f"{checkpoints} holds checkpoints ({found[-1].name}) of other training settings (see "
            f"{record}); delete {checkpoints} to train afresh, or restore the settings to resume"
        )
    checkpoints.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(settings, indent=1, sort_keys=True))

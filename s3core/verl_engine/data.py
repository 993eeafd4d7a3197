"""The training questions as verl's RLHF dataset reads them: one parquet row per naive-RAG cache row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s3core.data.atomic import atomic_open
from s3core.errors import S3Error

AGENT_NAME = "s3_searcher"


def verl_row(item: dict[str, Any], index: int) -> dict[str, Any]:
    """verl's columns; the whole cache row travels (as JSON) in `extra_info` to the agent loop."""
    return {
        "data_source": item["data_source"],
        "prompt": [{"role": "user", "content": item["question"]}],
        "agent_name": AGENT_NAME,
        "reward_model": {"style": "s3_gbr", "ground_truth": json.dumps(item["golden_answers"])},
        "extra_info": {"index": index, "s3_item": json.dumps(item)},
    }


def write_training_parquet(pool: list[dict[str, Any]], path: Path) -> Path:
    """The training pool as parquet, published when complete."""
    import pandas as pd

    with atomic_open(path, "wb") as handle:
        pd.DataFrame([verl_row(item, i) for i, item in enumerate(pool)]).to_parquet(handle, index=False)
    return path


def item_of(extra_info: dict[str, Any]) -> dict[str, Any]:
    """The cache row a dataset row carries (inverse of `verl_row`)."""
    return json.loads(extra_info["s3_item"])


def check_first_prompt(item: dict[str, Any], length: int, limit: int) -> None:
    """verl's prompt length holds the searcher's first prompt (verl would drop a longer one and train on)."""
    if length > limit:
        raise S3Error(
            f"question {item['id']!r}: the searcher's first prompt has {length} tokens, more than "
            f"train.verl.max_prompt_length ({limit}); raise it"
        )

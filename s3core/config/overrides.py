"""An ablation's sections: the config's `search`, `searcher`, `train` and `reward` with its overrides laid over
them (config `ablations`)."""

from __future__ import annotations

import copy
from typing import Any

#: The config sections an ablation may change.
RUN_SECTIONS = ("search", "searcher", "train", "reward")


def merged(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run sections of `config` with an ablation's `overrides` laid over them (nested keys merged)."""
    sections = {name: copy.deepcopy(config[name]) for name in RUN_SECTIONS}
    for name, changes in overrides.items():
        deep_update(sections[name], changes)
    return sections


def deep_update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    """`changes` laid over `target` in place, nested mappings key by key (copies of the values)."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)

"""Training checkpoints: one folder per saved step, written under a temporary name and renamed when complete,
so a killed run never leaves a half-written checkpoint; only the newest `keep` are kept."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch

from s3core.atomic import atomic_folder

PATTERN = re.compile(r"^step_(\d+)$")
STATE = "state.pt"


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint in `folder`, if any."""
    found = sorted((int(m.group(1)), p) for p in folder.glob("step_*") if (m := PATTERN.match(p.name)))
    return found[-1][1] if found else None


def save(folder: Path, step: int, state: dict[str, Any], keep: int = 1) -> Path:
    """Write `state` as checkpoint `step` (steps done so far) and drop older ones beyond `keep`."""
    final = folder / f"step_{step:06d}"
    with atomic_folder(final) as partial:
        torch.save(state, partial / STATE)
    older = sorted(p for p in folder.glob("step_*") if PATTERN.match(p.name) and p != final)
    for path in older[: max(len(older) - (keep - 1), 0)]:
        shutil.rmtree(path)
    return final


def load(path: Path, device: torch.device) -> dict[str, Any]:
    return torch.load(path / STATE, map_location=device, weights_only=False)

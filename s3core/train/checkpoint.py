"""Training checkpoints: one folder per saved step, written under a temporary name and renamed when complete,
so a killed run never leaves a half-written checkpoint; only the newest `keep` are kept. The trainer writes them
in the background (`Writer`), beside the next step's rollout."""

from __future__ import annotations

import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

from s3core.data.atomic import atomic_folder

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


class Writer:
    """Saves checkpoints into `folder` on a thread of its own, one at a time. The state's tensors are the live
    weights and optimiser moments: call `wait` before they change (the next update); leaving the `with` block
    waits too, and a failed save raises there."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future[Path] | None = None

    def save(self, step: int, state: dict[str, Any]) -> None:
        self.wait()
        self._pending = self._executor.submit(save, self.folder, step, state)

    def wait(self) -> None:
        """Block until the last checkpoint asked for is complete (re-raising its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._executor.shutdown(wait=True)

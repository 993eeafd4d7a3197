"""Per-step training metrics: a JSONL file (one row per step) and TensorBoard scalars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s3core.data.jsonl import write_jsonl


class Logbook:
    """Starts from the rows a checkpoint carried (so a resumed run's file has every step once)."""

    def __init__(self, path: Path, tensorboard_dir: Path, rows: list[dict[str, Any]]):
        from torch.utils.tensorboard import SummaryWriter

        self.path = path
        self.rows = list(rows)
        write_jsonl(path, self.rows)
        self.writer = SummaryWriter(str(tensorboard_dir))

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        for key, value in row.items():
            if key != "step":
                self.writer.add_scalar(f"train/{key}", value, row["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

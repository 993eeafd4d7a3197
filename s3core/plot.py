"""The training curve: reward and GenAcc (with the naive-RAG baseline) per PPO step, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3core.jsonl import atomic_open


def plot_training_curve(rows: list[dict[str, Any]], out: Path) -> None:
    """Two panels sharing the step axis: reward (and GBR), then GenAcc of s3 and of naive RAG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
    top.plot(steps, [r["reward"] for r in rows], marker="o", label="reward")
    if rows and "gbr" in rows[0]:
        top.plot(steps, [r["gbr"] for r in rows], marker=".", linestyle="--", label="GBR")
    top.set_ylabel("mean per question")
    top.legend()
    for key, label in (("genacc", "GenAcc (s3 documents)"), ("rag_genacc", "GenAcc (naive RAG)")):
        if rows and key in rows[0]:
            bottom.plot(steps, [r[key] for r in rows], marker="o", label=label)
    bottom.set_xlabel("PPO step")
    bottom.set_ylabel("GenAcc")
    bottom.legend()
    figure.tight_layout()
    with atomic_open(out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)

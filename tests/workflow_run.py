"""Running the workflow from tests: a tiny config of the demo (any suite name) and a Snakemake subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import update_config

ROOT = Path(__file__).resolve().parents[1]
ALL_METHODS = ["direct", "cot", "rag_bm25", "rag_dense", "ircot", "search_o1", "search_r1", "deepretrieval",
               "s3_step0", "s3"]


def tiny_config(suite: str, methods: list[str]) -> dict[str, Any]:
    """The demo config at a tiny size: 4 NQ questions to answer, one PPO step of 2 questions, short loops and
    prompts (one naive-RAG document), so the whole DAG runs in minutes on 2 cores."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, _tiny_overrides(suite, methods))
    config["assets"]["eval"] = {"nq": config["assets"]["eval"]["nq"]}   # one set; the dry runs expand all
    return config


def _tiny_overrides(suite: str, methods: list[str]) -> dict[str, Any]:
    llm = f"results/{suite}/assets/llm"
    return {
        "suite": suite,
        "assets": {"corpus": {"distractors": 150}, "train": {"source": "nq_dev", "size": 4},
                   "eval": {"nq": {"source": "nq_test", "size": 4}}},
        "generators": {"smollm2-135m": {"backend": "hf", "model": llm, "max_new_tokens": 12, "batch_size": 4}},
        "search": {"max_turns": 1, "extra_search_round": False, "initial_topk": 1, "max_new_tokens": 16,
                   "max_obs_tokens": 128},
        "searcher": {"model": llm, "batch_size": 4},
        "train": {"steps": 1, "batch_size": 2, "mini_batch_size": 2, "micro_batch_size": 2, "checkpoint_every": 1,
                  "drop_rag_correct": False, "gradient_checkpointing": False},
        "baselines": {"cot": {"max_new_tokens": 24}, "ircot": {"max_steps": 2, "max_new_tokens": 12},
                      "search_o1": {"max_searches": 1, "max_new_tokens": 16, "condense_max_new_tokens": 12},
                      "search_r1": {"model": llm, "max_turns": 1, "max_new_tokens": 16},
                      "deepretrieval": {"model": llm, "max_new_tokens": 16}},
        "eval": {"methods": methods},
    }


def snakemake(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """`python -m snakemake ARGS` in the repository root with this interpreter's scripts on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)

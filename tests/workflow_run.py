"""Running the workflow from tests: a tiny config of the demo (any suite name) and Snakemake as a subprocess,
waited for or in the background."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import update_config

from s3core.methods.registry import builtin

ROOT = Path(__file__).resolve().parents[1]
#: Every method but upstream's released checkpoint (it needs upstream's prompt in a file), in the paper's order
ALL_METHODS = [method.name for method in builtin() if method.name != "s3_released"]


def tiny_config(suite: str, methods: list[str]) -> dict[str, Any]:
    """The demo config at a tiny size: 4 NQ questions to answer, one PPO step on 1 of 2 training questions,
    short loops and prompts (one naive-RAG document), so the whole DAG runs in minutes on 2 cores. The generator is
    the demo's (real vLLM, CPU build); under the local profile one server answers every job of the run."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, _tiny_overrides(suite, methods))
    config["assets"]["eval"] = {"nq": config["assets"]["eval"]["nq"]}  # one set; the dry runs expand all
    config["ablations"] = {}  # s3 alone; the stand-in paper run trains an ablation too
    return config


def _tiny_overrides(suite: str, methods: list[str]) -> dict[str, Any]:
    llm = f"results/{suite}/assets/llm"
    return {
        "suite": suite,
        "assets": {
            "corpus": {"distractors": 150},
            "train": {"source": "nq_dev", "size": 2},
            "eval": {"nq": {"source": "nq_test", "size": 4}},
        },
        "generators": {"smollm2-135m": {"model": llm, "max_new_tokens": 12}},  # the demo's: vLLM's CPU build
        "search": {
            "max_turns": 1,
            "extra_search_round": False,
            "initial_topk": 1,
            "max_new_tokens": 16,
            "max_obs_tokens": 128,
        },
        "searcher": {"model": llm, "batch_size": 4},
        "train": {
            "steps": 1,
            "batch_size": 1,
            "mini_batch_size": 1,
            "micro_batch_size": 1,
            "checkpoint_every": 1,
            "drop_rag_correct": False,
            "gradient_checkpointing": False,
        },
        "baselines": {
            "cot": {"max_new_tokens": 24},
            "ircot": {"max_steps": 2, "max_new_tokens": 12},
            "search_o1": {"max_searches": 1, "max_new_tokens": 16, "condense_max_new_tokens": 12},
            "search_r1": {"model": llm, "max_turns": 1, "max_new_tokens": 16},
            "deepretrieval": {"model": llm, "max_new_tokens": 16},
        },
        "eval": {"methods": methods},
    }


def _command(args: tuple[str, ...], env: dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """`python -m snakemake ARGS` and its environment: this interpreter's scripts on PATH, then `env` over it."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    return [sys.executable, "-m", "snakemake", *args], env


def snakemake(*args: str, timeout: int = 1800, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in the repository root (with `env` over this environment) and wait for it."""
    command, env = _command(args, env)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


class BackgroundRun:
    """Snakemake started in the repository root without waiting, its output going to `log`; `finish` waits."""

    def __init__(self, log: Path, *args: str, env: dict[str, str] | None = None):
        self.log, self.args, self.env = log, args, env
        command, env = _command(args, env)
        with log.open("w") as handle:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )

    def finish(self, timeout: int) -> tuple[int, str]:
        """(exit status, output); a run still going after `timeout` seconds is stopped (TimeoutExpired)."""
        try:
            status = self.process.wait(timeout)
        finally:
            self.stop()
        return status, self.log.read_text()

    def stop(self) -> None:
        """SIGTERM to Snakemake's process group (it cancels its SLURM jobs), then wait for it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(120)


def planned_jobs(output: str) -> list[dict[str, str]]:
    """The jobs of a dry run's output: rule name and the fields Snakemake prints (threads, priority, resources...)."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        if rule := re.search(r"^(?:local)?rule (\w+):", block, re.M):
            jobs.append({"rule": rule[1], **dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))})
    return jobs

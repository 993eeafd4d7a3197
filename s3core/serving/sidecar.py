"""Run a server (retriever, vLLM) as a child process on a free loopback port for one job's lifetime; it is noted
in the job's provenance record with its command, version and exit code."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx

from s3core.errors import ServiceError
from s3core.serving.provenance import now, record_service, service_version


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (scancel, SLURM preemption, snakemake stopping a job) into SystemExit(143) while the block
    runs, so `with Sidecar(...)` blocks unwind and stop their servers instead of leaving them orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(nice: int = 0) -> Callable[[], None] | None:
    """A `preexec_fn` that ties a child to this process's life on Linux: the kernel sends the child SIGTERM when
    the thread that started it ends, however it ends (SIGKILL by the OOM killer, `scancel --signal=KILL`, a killed
    snakemake), so no server outlives its job. None elsewhere. Start children from the main thread: a child started
    by a worker thread would be stopped when that thread ends. `nice` lowers the child's CPU priority by that much
    (`lower_priority`)."""
    if not sys.platform.startswith("linux"):
        return (lambda: lower_priority(nice)) if nice else None
    parent = os.getpid()

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
        if nice:
            lower_priority(nice)

    return arm


AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(nice: int) -> None:
    """Lower this process's CPU priority by `nice`, for its own children too. A server in a session of its own
    (`start_new_session`) is, where the kernel groups sessions for scheduling (Linux's autogroup, on by default on
    desktops and most VMs), weighed against the other sessions as a whole, so its process nice alone would not
    yield to the jobs beside it: the session's nice is set as well. The kernel lets that change once per 100 ms
    across the machine (EAGAIN otherwise), so it is retried for up to a second."""
    os.nice(nice)
    if not AUTOGROUP.exists():
        return
    for _ in range(10):
        try:
            AUTOGROUP.write_text(str(nice))
            return
        except BlockingIOError:
            time.sleep(0.1)


def _reap_group(group: int, grace_s: float) -> None:
    """Wait up to `grace_s` for every process of `group` to exit, then SIGKILL the rest."""
    deadline = time.monotonic() + grace_s
    try:
        while time.monotonic() < deadline:
            os.killpg(group, 0)
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class Sidecar:
    """Start `command` (with `{port}` filled in), wait until GET `health_path` answers 200, stop on exit.
    `role` names it in the provenance record; `version_path` is where it tells its version (default: health);
    `env` replaces the environment it runs in (e.g. its own CUDA_VISIBLE_DEVICES); `nice` lowers its CPU priority."""

    def __init__(
        self,
        command: list[str],
        log: Path,
        host: str = "127.0.0.1",
        health_path: str = "/health",
        startup_timeout_s: float = 600,
        role: str = "server",
        version_path: str | None = None,
        env: dict[str, str] | None = None,
        nice: int = 0,
    ):
        self.port = free_port(host)
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.url = f"http://{host}:{self.port}"
        self.log = Path(log)
        self.health_path = health_path
        self.startup_timeout_s = startup_timeout_s
        self.role = role
        self.version_path = version_path or health_path
        self.env = env
        self.nice = nice
        self.process: subprocess.Popen | None = None
        self.record: dict | None = None

    def __enter__(self) -> Sidecar:
        self.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Start the server and wait until it is healthy; its provenance entry. `cancel`, once set (the run that
        wanted it is ending), ends that wait at once: the server is stopped and ServiceError raised, as for one that
        fails to start."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                preexec_fn=die_with_parent(self.nice),
            )
        try:
            self._wait_healthy(self.process, cancel or threading.Event())
        except BaseException:
            self.stop()
            raise
        self.record = record_service(
            self.role,
            self.url,
            external=False,
            command=self.command,
            pid=self.process.pid,
            nice=self.nice,
            log=str(self.log),
            version=service_version(self.url, self.version_path),
        )
        return self.record

    def _wait_healthy(self, process: subprocess.Popen, cancel: threading.Event) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if cancel.is_set():
                raise ServiceError(f"sidecar stopped before it was healthy (cancelled): {' '.join(self.command)}")
            if process.poll() is not None:
                raise ServiceError(
                    f"sidecar exited with code {process.returncode} before it was healthy: "
                    f"{' '.join(self.command)}\nlast lines of {self.log}:\n{_tail(self.log)}"
                )
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            cancel.wait(0.2)
        raise ServiceError(f"sidecar at {self.url} not healthy after {self.startup_timeout_s}s; see {self.log}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 10) -> None:
        """SIGTERM the sidecar's process group, SIGKILL what is left of it after `grace_s` (the server's own
        children too: vLLM's engine processes); note how it ended."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        _reap_group(process.pid, grace_s)
        if self.record is not None and "stopped" not in self.record:
            self.record.update(stopped=now(), exit_code=process.returncode)

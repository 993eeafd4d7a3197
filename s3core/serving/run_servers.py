"""Servers that live as long as a workflow run (config `servers: per_run`, the local profile): a server
costs seconds to minutes to start (a vLLM engine 25-110 s, a retriever with its encoder and index ~10-20 s), so on a
workstation the run starts each one once and every job reaches it over HTTP. Snakemake's `onstart` starts a
RunServers: a thread per server waits until what it serves exists (a job of the run may still be building it),
starts the server, announces it and holds it until every job it serves is done or `onsuccess`, `onerror` or
interpreter exit stops it (the kernel stops it if Snakemake itself is killed: the thread that started it ends). The
folder named by the RunServers' environment variable (jobs inherit it) holds, per server, `<name>.pending` (what it
serves) while it is not up, else `<name>.json` (what it serves, its facts, URL, pid, command, version, log), or
`<name>.failed` with the reason; a job that looks a pending server up writes `<name>.wanted`: `on_demand` servers (the
SLURM server jobs) start only then, so none holds GPUs while the jobs before its first user still run, nor in a
target that never uses it. `held_dir/<name>.tsv` says how long each has been held in all, as Snakemake's benchmark
files say a job's time (the report's GPU-hours used)."""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from s3core.data.atomic import atomic_open
from s3core.errors import ServiceError

#: How often a running server checks whether every job it serves is done
FINISHED_POLL_S = 10.0
#: The file Snakemake writes into a directory output once the job that made it has finished
FINISHED_MARK = ".snakemake_timestamp"


class Server(Protocol):
    """What RunServers drives: a Sidecar on this machine, or a SlurmServer (s3core.serving.slurm_server)."""

    url: str
    record: dict[str, Any] | None

    def start(self, cancel: threading.Event | None = None) -> Any: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class RunService:
    """One server of the run: `serves` (a model, an index folder) is how jobs find it; it starts once `ready()`
    holds; `facts()`, taken when it starts, go into its announcement for jobs to check; it stops early, its GPUs
    given back, once `finished()` holds (every job it serves is done), and starts again if that stops holding."""

    name: str
    serves: str
    ready: Callable[[], bool]
    sidecar: Callable[[], Server]
    facts: Callable[[], dict[str, Any]] = field(default=dict)
    finished: Callable[[], bool] = field(default=lambda: False)


class RunServers:
    """The run's servers of one kind, announced in `state_dir`, which jobs find through the environment variable
    `env`; `start` them, `stop` them all; each one's time held (so far) is written into `held_dir`; `on_demand`: a
    server starts once a job asks for it."""

    def __init__(self, state_dir: Path, env: str, held_dir: Path | None = None, on_demand: bool = False):
        self.state_dir = Path(state_dir)
        self.env = env
        self.held_dir = held_dir
        self.on_demand = on_demand
        self.held_s: dict[str, float] = {}  # each server's seconds held by its earlier starts
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, services: Iterable[RunService]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.held_dir:
            self.held_dir.mkdir(parents=True, exist_ok=True)
        for service in services:
            _clear(self.state_dir, service.name)
            (self.state_dir / f"{service.name}.pending").write_text(service.serves)
            # a daemon: at exit Python joins other threads before it runs atexit's stop
            thread = threading.Thread(target=self._serve, args=(service,), name=service.name, daemon=True)
            thread.start()
            self.threads.append(thread)
        os.environ[self.env] = str(self.state_dir)
        atexit.register(self.stop)

    def _serve(self, service: RunService) -> None:
        """Whenever the service is needed (ready, and not finished), start its server and hold it until it is
        finished; until `stop`, after which nothing of it is left but a failed start's note."""
        while self._needed(service) and self._hold(service):
            pass

    def _needed(self, service: RunService) -> bool:
        """Wait, announced as pending, until the service is ready, not finished (a job it serves is not done, or
        is run again: Snakemake deletes a job's outputs before it runs it) and, `on_demand`, asked for; False once
        `stop` comes first."""
        asked = self.state_dir / f"{service.name}.wanted"
        while not service.ready() or service.finished() or (self.on_demand and not asked.exists()):
            if self.stopping.wait(1.0):
                _clear(self.state_dir, service.name)
                return False
        return True

    def _hold(self, service: RunService) -> bool:
        """Start the service's server, announce it, hold it until the service is finished (then pending again:
        True) or `stop` (False); a failed start is noted for the jobs (False). A `stop` while the server starts
        stops it at once (it does not wait for the server to become healthy)."""
        sidecar = service.sidecar()
        started = time.monotonic()
        try:
            sidecar.start(cancel=self.stopping)
        except (ServiceError, OSError) as exc:  # OSError: its command is not there
            if self.stopping.is_set():
                _clear(self.state_dir, service.name)
                return False
            (self.state_dir / f"{service.name}.failed").write_text(str(exc))
            (self.state_dir / f"{service.name}.pending").unlink(missing_ok=True)
            self._end_hold(service.name, started)
            return False
        assert sidecar.record is not None  # a started sidecar has its record
        with atomic_open(self.state_dir / f"{service.name}.json", "w") as handle:
            json.dump({"serves": service.serves, **service.facts(), **sidecar.record}, handle, indent=1)
        (self.state_dir / f"{service.name}.pending").unlink(missing_ok=True)
        while True:
            self._write_held(service.name, started, running=True)
            if self.stopping.wait(FINISHED_POLL_S) or service.finished():
                break
        if stopping := self.stopping.is_set():
            _clear(self.state_dir, service.name)
        else:  # pending before the announcement goes: a job that looks now asks for (and waits on) the next start
            (self.state_dir / f"{service.name}.wanted").unlink(missing_ok=True)
            (self.state_dir / f"{service.name}.pending").write_text(service.serves)
            (self.state_dir / f"{service.name}.json").unlink(missing_ok=True)
        sidecar.stop()
        self._end_hold(service.name, started)
        return not stopping

    def _write_held(self, name: str, started: float, running: bool) -> float:
        """Record how long server `name` has been held, its earlier starts included (`running`: so far, it still
        is); this start's seconds."""
        seconds = time.monotonic() - started
        if self.held_dir:
            total = self.held_s.get(name, 0.0) + seconds
            with atomic_open(self.held_dir / f"{name}.tsv") as handle:  # as Snakemake's benchmark files
                handle.write(f"s\th:m:s\trunning\n{total:.1f}\t{timedelta(seconds=int(total))}\t{running}\n")
        return seconds

    def _end_hold(self, name: str, started: float) -> None:
        self.held_s[name] = self.held_s.get(name, 0.0) + self._write_held(name, started, running=False)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.threads.clear()
        atexit.unregister(self.stop)


def _clear(state_dir: Path, name: str) -> None:
    for suffix in (".pending", ".json", ".failed", ".wanted"):
        (state_dir / f"{name}{suffix}").unlink(missing_ok=True)


def build_stamp(folder: Path | str) -> int | None:
    """Which build of `folder` this is (the newest time one of its files was written), None while Snakemake has not
    marked it finished: a job compares it with the announcement's to tell a server of an earlier build from one of
    the current. Not the mark's own time: Snakemake's process writes the mark again after a cluster job wrote it."""
    mark = Path(folder) / FINISHED_MARK
    if not mark.exists():
        return None
    written = (p.stat().st_mtime_ns for p in Path(folder).rglob("*") if p.is_file() and p.name != FINISHED_MARK)
    return max(written, default=0)


def state_folder(env: str) -> Path | None:
    """The announcements' folder of the run this job belongs to (None outside a run with such servers)."""
    folder = os.environ.get(env)
    return Path(folder) if folder else None


def announcement(folder: Path, name: str, timeout_s: float) -> dict[str, Any] | None:
    """The announcement of server `name`, asking for it and waiting while it starts (None: the run has none of that
    name). A server that failed to start, or did not start within `timeout_s`, is an error."""
    deadline = time.monotonic() + timeout_s
    if (folder / f"{name}.pending").exists():
        (folder / f"{name}.wanted").touch()  # an on-demand server starts now
    while (folder / f"{name}.pending").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    if (failed := folder / f"{name}.failed").exists():
        raise ServiceError(f"the run's server {name} did not start: {failed.read_text()}")
    if (folder / f"{name}.pending").exists():
        raise ServiceError(f"the run's server {name} is not up after {timeout_s:.0f} s")
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def server_for(env: str, serves: str, timeout_s: float) -> dict[str, Any] | None:
    """The announcement of the run's server that serves `serves` (see `announcement`), or None."""
    folder = state_folder(env)
    if folder is None:
        return None
    starting = [p.stem for p in folder.glob("*.pending") if p.read_text() == serves]
    started = [p.stem for p in folder.glob("*.json") if json.loads(p.read_text())["serves"] == serves]
    for name in sorted({*starting, *started}):
        if server := announcement(folder, name, timeout_s):
            return server
    return None


def served_by_entry(server: dict[str, Any]) -> dict[str, Any]:
    """What a job's provenance records of the run's server that answered it."""
    keys = ("pid", "command", "version", "log", "slurm_job")
    return {"served_by": {key: server[key] for key in keys if key in server}}

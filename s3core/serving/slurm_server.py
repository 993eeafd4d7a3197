"""A run's server as a SLURM job of its own (config `servers: per_run_slurm`): a model or an index is loaded once
for the whole workflow run, on a compute node, and every job of the run reaches it over the network.

The workflow's process submits the server job (`sbatch`); on its node `s3core host-server` starts the server
bound to the node's address on a free port, with the run's secret token (a 0600 file in the run's services
folder; never on a command line, in a log or in a provenance record), waits until it is healthy and writes its
address. The workflow's process waits for that address, then keeps a heartbeat file fresh: a server whose
heartbeat goes stale (the workflow was killed) stops itself, and `stop` cancels the job (`scancel`), so no GPU
stays held after the run ends, fails or is interrupted."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3core.errors import ServiceError
from s3core.serving.provenance import now, record_service

#: How often the workflow's process touches a server's heartbeat, and how old it may get before the server stops
HEARTBEAT_S = 15.0
STALE_S = 180.0
TOKEN_FILE = "token"


def run_token(folder: Path) -> Path:
    """The run's secret token file in `folder` (created with mode 0600 when absent); its path."""
    path = Path(folder) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # the run's other servers made it
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path


def server_token(server: dict[str, Any]) -> str | None:
    """The token a run's server (its announcement) wants from clients, None for a loopback server."""
    path = server.get("token_file")
    return Path(path).read_text().strip() if path else None


@dataclass(frozen=True)
class ServerJob:
    """What a server job runs and asks for: `command` with `{host}` and `{port}` to fill on the node, the URL path
    that answers 200 once it is healthy, and its SLURM request (`gpus`, `cpus`, `mem_mb`, `runtime` minutes,
    `partition`)."""

    name: str
    command: list[str]
    log: Path
    role: str
    health_path: str = "/health"
    version_path: str | None = None
    startup_timeout_s: float = 600
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0
    cpus: int = 1
    mem_mb: int = 8000
    runtime: int = 1440
    partition: str | None = None


class SlurmServer:
    """A run server of `job` as a SLURM job, with the Sidecar interface RunServers drives (`start`, `stop`, `url`,
    `record`); its address and heartbeat live in `state_dir`."""

    def __init__(self, job: ServerJob, state_dir: Path, token_file: Path):
        self.job, self.state_dir, self.token_file = job, Path(state_dir), Path(token_file)
        self.address_file = self.state_dir / f"{job.name}.address"  # not *.json: those are announcements
        self.heartbeat = self.state_dir / f"{job.name}.heartbeat"
        self.job_id: str | None = None
        self.url = ""
        self.record: dict[str, Any] | None = None
        self._beating = threading.Event()
        self._cancel = threading.Event()

    def sbatch_command(self) -> list[str]:
        """The `sbatch` call that submits the server job."""
        job = self.job
        host_server = [
            sys.executable, "-m", "s3core.cli", "host-server", "--address-file", str(self.address_file),
            "--heartbeat", str(self.heartbeat), "--token-file", str(self.token_file), "--health-path",
            job.health_path, "--startup-timeout-s", str(job.startup_timeout_s), "--", *job.command,
        ]  # fmt: skip
        request = [f"--cpus-per-task={job.cpus}", f"--mem={job.mem_mb}M", f"--time={job.runtime}"]
        request += [f"--gpus={job.gpus}"] if job.gpus else []
        request += [f"--partition={job.partition}"] if job.partition else []
        return [
            "sbatch", "--parsable", f"--job-name=s3-server-{job.name}", f"--output={job.log}", *request,
            f"--wrap={shlex.join(host_server)}",
        ]  # fmt: skip

    def start(self, cancel: threading.Event | None = None) -> None:
        """Submit the server job and wait until its server is healthy (`cancel`, once set, ends the wait)."""
        self._cancel = cancel or threading.Event()
        run_token(self.token_file.parent)
        self.address_file.unlink(missing_ok=True)
        self.heartbeat.touch()
        self.job.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.job.env}
        submitted = subprocess.run(self.sbatch_command(), capture_output=True, text=True, env=env)
        if submitted.returncode:
            raise ServiceError(f"sbatch refused the server job {self.job.name}: {submitted.stderr.strip()}")
        self.job_id = submitted.stdout.strip().split(";")[0]
        try:
            address = self._wait_address()
        except BaseException:
            self.stop()
            raise
        self.url = address["url"]
        threading.Thread(target=self._beat, name=f"heartbeat-{self.job.name}", daemon=True).start()
        self.record = record_service(
            self.job.role, self.url, external=False, command=self.job.command, slurm_job=self.job_id,
            host=address["host"], pid=address["pid"], log=str(self.job.log), version=address.get("version"),
            token_file=str(self.token_file),
        )  # fmt: skip

    def _wait_address(self) -> dict[str, Any]:
        """The address the server job writes once its server is healthy; an error if the job ends first."""
        deadline = time.monotonic() + self.job.startup_timeout_s + 60  # and the time the job waits in the queue
        while time.monotonic() < deadline:
            if self.address_file.exists():
                return json.loads(self.address_file.read_text())
            if self._cancel.is_set():
                raise ServiceError(f"server job {self.job.name} (SLURM job {self.job_id}) cancelled while it started")
            if not self._queued():
                tail = self.job.log.read_text(errors="replace").splitlines()[-20:] if self.job.log.exists() else []
                raise ServiceError(
                    f"server job {self.job.name} (SLURM job {self.job_id}) ended before its server was healthy; "
                    f"last lines of {self.job.log}:\n" + "\n".join(tail)
                )
            self.heartbeat.touch()
            time.sleep(1.0)
        raise ServiceError(f"server job {self.job.name} (SLURM job {self.job_id}) not up in time; see {self.job.log}")

    def _queued(self) -> bool:
        listed = subprocess.run(["squeue", "-h", "-j", str(self.job_id), "-o", "%i"], capture_output=True, text=True)
        return listed.returncode == 0 and bool(listed.stdout.strip())

    def _beat(self) -> None:
        while not self._beating.wait(HEARTBEAT_S):
            self.heartbeat.touch()

    def alive(self) -> bool:
        return self.job_id is not None and self._queued()

    def stop(self, grace_s: float = 30) -> None:
        """Cancel the server job and wait (up to `grace_s`) until SLURM has let it go."""
        self._beating.set()
        if self.job_id is None:
            return
        subprocess.run(["scancel", str(self.job_id)], capture_output=True)
        deadline = time.monotonic() + grace_s
        while self._queued() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.address_file.unlink(missing_ok=True)
        self.heartbeat.unlink(missing_ok=True)
        if self.record is not None and "stopped" not in self.record:
            self.record.update(stopped=now(), exit_code=None)

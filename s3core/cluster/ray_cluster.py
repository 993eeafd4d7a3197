"""A Ray cluster across the nodes of one SLURM allocation, for a training engine that schedules with Ray (verl).

The head runs on the node this job step runs on (the batch host), one worker on every other node; each is a
`srun --overlap` step so it shares the job's CPUs and GPUs with the command it serves. Ports are chosen free,
the temp dir is private to the job, and the cluster is stopped (and its temp dir removed) when the command
ends, fails, or the job gets SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from s3core.errors import S3Error
from s3core.serving.sidecar import die_with_parent, free_port

log = logging.getLogger(__name__)

MARKER = "S3_RAY_CLUSTER"  # in the environment of every process of one cluster, to find them at the end
COUNT_ALIVE_NODES = "import ray; ray.init(); print(sum(n['Alive'] for n in ray.nodes()))"


def ray_executable() -> str:
    """The `ray` CLI of this environment (srun steps may not have it on PATH), else whatever PATH finds."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else "ray"


@dataclass(frozen=True)
class RayPlan:
    """Where and how the cluster's processes start."""

    head: str
    head_ip: str
    workers: tuple[str, ...]
    port: int
    client_port: int
    temp_dir: str
    cpus_per_node: int
    gpus_per_node: int

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"

    def _step(self, node: str) -> list[str]:
        return ["srun", "--overlap", "--nodes=1", "--ntasks=1", f"--nodelist={node}"]

    def _resources(self) -> list[str]:
        return [
            f"--num-cpus={self.cpus_per_node}",
            f"--num-gpus={self.gpus_per_node}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            "--block",
        ]

    def head_command(self) -> list[str]:
        return [
            *self._step(self.head),
            ray_executable(),
            "start",
            "--head",
            f"--node-ip-address={self.head_ip}",
            f"--port={self.port}",
            f"--ray-client-server-port={self.client_port}",
            "--include-dashboard=false",
            *self._resources(),
        ]

    def worker_command(self, node: str) -> list[str]:
        return [*self._step(node), ray_executable(), "start", f"--address={self.address}", *self._resources()]


def expand_nodelist(nodelist: str) -> list[str]:
    """SLURM's compressed node list (`gpu[01-04]`) as host names, via `scontrol show hostnames`."""
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()


def ip_address(host: str) -> str:
    """The host's IP address (Ray nodes meet by IP), or the name itself when it does not resolve here."""
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def plan_for_allocation(environ: Mapping[str, str], nodes: list[str] | None = None) -> RayPlan:
    """The plan for the allocation described by SLURM's environment (or for `nodes`, for a dry run)."""
    if nodes is None:
        if "SLURM_JOB_NODELIST" not in environ:
            raise S3Error(
                "ray-run starts a Ray cluster inside a SLURM allocation, but SLURM_JOB_NODELIST is not "
                "set: run it in an sbatch/salloc job (or give --nodes with --dry-run to see the plan)"
            )
        nodes = expand_nodelist(environ["SLURM_JOB_NODELIST"])
    here = socket.gethostname().split(".")[0]
    head = here if here in nodes else nodes[0]
    job = environ.get("SLURM_JOB_ID", str(os.getpid()))
    return RayPlan(
        head=head,
        head_ip=ip_address(head),
        workers=tuple(n for n in nodes if n != head),
        port=free_port(),
        client_port=free_port(),
        temp_dir=f"/tmp/ray-{job}",  # short: Ray's socket paths must stay under 107 characters
        cpus_per_node=int(environ.get("SLURM_CPUS_ON_NODE", os.cpu_count() or 1)),
        gpus_per_node=int(environ.get("SLURM_GPUS_ON_NODE", 0)),
    )


def describe(plan: RayPlan, command: list[str]) -> str:
    """The plan as the shell lines it amounts to (what `--dry-run` prints)."""
    lines = [shlex.join(plan.head_command()) + " &"]
    lines += [shlex.join(plan.worker_command(node)) + " &" for node in plan.workers]
    lines.append(f"RAY_ADDRESS={plan.address} {shlex.join(command)}")
    return "\n".join(lines)


def _alive_nodes(address: str) -> int:
    """Nodes alive in the cluster at `address` (0 while it does not answer yet)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", COUNT_ALIVE_NODES],
            capture_output=True,
            text=True,
            env={**os.environ, "RAY_ADDRESS": address},
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return 0
    return int(probe.stdout.split()[-1]) if probe.returncode == 0 and probe.stdout.strip() else 0


def _wait_for_nodes(plan: RayPlan, steps: list[subprocess.Popen], timeout_s: float) -> None:
    want = 1 + len(plan.workers)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [step for step in steps if step.poll() is not None]
        if dead:
            raise S3Error(
                f"a Ray node exited with code {dead[0].returncode} while the cluster started: "
                f"{shlex.join(cast(list[str], dead[0].args))} (see the job's log)"
            )
        if _alive_nodes(plan.address) >= want:
            return
        time.sleep(2)
    raise S3Error(f"the Ray cluster at {plan.address} did not reach {want} nodes in {timeout_s}s")


def _marked_processes(marker: str) -> list[int]:
    """Processes on this host whose environment carries `marker` (every Ray process of this cluster does)."""
    needle = f"{MARKER}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
    return pids


def _stop(steps: list[subprocess.Popen], marker: str, grace_s: float = 30) -> None:
    """End the srun steps, then wait for this host's Ray processes (which Ray shuts down on its own
    schedule) and kill what is left after `grace_s`."""
    for step in steps:
        if step.poll() is None:
            os.killpg(step.pid, signal.SIGTERM)
    for step in steps:
        try:
            step.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(step.pid, signal.SIGKILL)
            step.wait()
    deadline = time.monotonic() + grace_s
    while (left := _marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def ray_cluster(plan: RayPlan, startup_timeout_s: float = 300) -> Iterator[str]:
    """Start the cluster, yield its address, stop it on the way out."""
    marker = f"{plan.temp_dir}:{plan.port}"
    env = {**os.environ, MARKER: marker}
    steps: list[subprocess.Popen] = []
    try:
        # each step (srun) ends with this process, however it ends: SIGKILLed, the job's Ray processes go too
        steps.append(
            subprocess.Popen(plan.head_command(), env=env, start_new_session=True, preexec_fn=die_with_parent())
        )
        _wait_for_nodes(plan, steps, startup_timeout_s)
        steps += [
            subprocess.Popen(plan.worker_command(n), env=env, start_new_session=True, preexec_fn=die_with_parent())
            for n in plan.workers
        ]
        _wait_for_nodes(plan, steps, startup_timeout_s)
        log.info("Ray cluster of %d nodes at %s", 1 + len(plan.workers), plan.address)
        yield plan.address
    finally:
        _stop(steps, marker)
        shutil.rmtree(plan.temp_dir, ignore_errors=True)


def run_on_ray(command: list[str], plan: RayPlan, startup_timeout_s: float = 300) -> int:
    """Run `command` with RAY_ADDRESS pointing at a cluster started for it; its exit status."""
    with ray_cluster(plan, startup_timeout_s) as address:
        return subprocess.run(command, env={**os.environ, "RAY_ADDRESS": address}).returncode

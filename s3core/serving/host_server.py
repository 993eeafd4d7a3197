"""`s3core host-server`: inside a server job (s3core.serving.slurm_server), start the server on this node's
address with the run's token, write its address once it is healthy, and hold it until the job is cancelled, the
server dies, or the workflow's heartbeat goes stale."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from s3core.data.atomic import atomic_open
from s3core.serving.sidecar import Sidecar, exit_on_sigterm
from s3core.serving.slurm_server import STALE_S

#: The environment variables a server reads its token from (the retriever server; vLLM's OpenAI server)
TOKEN_ENV = ("S3_SERVER_TOKEN", "VLLM_API_KEY")


def node_address() -> str:
    """The name other nodes reach this one by (`S3_SERVER_HOST` overrides it)."""
    return os.environ.get("S3_SERVER_HOST") or socket.getfqdn()


def host_server(
    command: list[str],
    address_file: Path,
    heartbeat: Path,
    token_file: Path,
    health_path: str,
    startup_timeout_s: float,
) -> int:
    """Run `command` (`{host}`, `{port}` filled in) until it dies (its exit code), the job is cancelled, or the
    heartbeat is older than STALE_S (0: the workflow is gone)."""
    host = node_address()
    token = Path(token_file).read_text().strip()
    env = {**os.environ, **dict.fromkeys(TOKEN_ENV, token)}
    server = Sidecar(
        [part.replace("{host}", host) for part in command],
        address_file.with_suffix(".server.log"),
        host=host,
        health_path=health_path,
        startup_timeout_s=startup_timeout_s,
        env=env,
    )
    with exit_on_sigterm():
        try:
            record = server.start()
            address = {"url": server.url, "host": host, "pid": record["pid"], "version": record["version"]}
            with atomic_open(address_file) as handle:
                json.dump({**address, "slurm_job": os.environ.get("SLURM_JOB_ID")}, handle)
            return _hold(server, heartbeat)
        finally:
            address_file.unlink(missing_ok=True)
            server.stop()


def _hold(server: Sidecar, heartbeat: Path) -> int:
    while server.alive():
        if time.time() - heartbeat.stat().st_mtime > STALE_S:
            return 0
        time.sleep(5)
    return (server.process.returncode if server.process else None) or 1

"""A run's server as a SLURM job of its own (servers: per_run_slurm), without SLURM: the run's token, the server's
bearer check, the sbatch call, and `s3core host-server` starting a real server, announcing it and stopping when
the workflow's heartbeat goes stale (tests/test_dag_runs.py runs the whole thing through a SLURM controller)."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from s3core.serving.bearer import BearerToken, bearer_headers
from s3core.serving.host_server import host_server
from s3core.serving.slurm_server import ServerJob, SlurmServer, run_token, server_token


def test_the_runs_token_is_a_secret_file_only_its_owner_reads(tmp_path):
    path = run_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_text()) >= 32
    assert run_token(tmp_path).read_text() == path.read_text()  # one token for the run
    assert server_token({"token_file": str(path)}) == path.read_text() and server_token({}) is None


def test_a_server_with_a_token_refuses_requests_without_it_but_answers_health():
    routes = [Route(p, lambda request: PlainTextResponse("ok")) for p in ("/health", "/retrieve")]
    client = TestClient(BearerToken(Starlette(routes=routes), token="s3cret"))
    assert client.get("/health").status_code == 200
    assert client.get("/retrieve").status_code == 401
    assert client.get("/retrieve", headers=bearer_headers("wrong")).status_code == 401
    assert client.get("/retrieve", headers=bearer_headers("s3cret")).status_code == 200


def test_the_server_job_asks_for_what_it_loads_and_carries_no_secret(tmp_path):
    token = run_token(tmp_path)
    job = ServerJob("retriever-wiki-dense", ["s3core", "serve", "--host", "{host}"], tmp_path / "s.log", "r", gpus=1)
    command = SlurmServer(job, tmp_path, token).sbatch_command()
    assert command[:2] == ["sbatch", "--parsable"] and "--gpus=1" in command and "--mem=8000M" in command
    assert token.read_text() not in " ".join(command) and "--token-file" in command[-1]
    cpu_only = ServerJob("g", ["vllm"], tmp_path / "g.log", "g", gpus=0)
    assert not [part for part in SlurmServer(cpu_only, tmp_path, token).sbatch_command() if "--gpus" in part]


def test_host_server_announces_its_server_and_stops_it_when_the_heartbeat_goes_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("S3_SERVER_HOST", "127.0.0.1")
    monkeypatch.setattr("s3core.serving.host_server.STALE_S", 3.0)
    heartbeat, address = tmp_path / "g.heartbeat", tmp_path / "g.address"
    heartbeat.touch()
    server = [sys.executable, "-m", "http.server", "{port}", "--bind", "{host}", "--directory", str(tmp_path)]
    seen = {}

    def watch() -> None:  # what a job of the run sees while the server is up
        while not address.exists():
            time.sleep(0.1)
        seen["status"] = httpx.get(json.loads(address.read_text())["url"]).status_code

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert host_server(server, address, heartbeat, run_token(tmp_path), "/", 30) == 0
    watcher.join(5)
    assert seen["status"] == 200 and not address.exists()
    log = (tmp_path / "g.server.log").read_text()
    assert "GET / " in log and os.environ.get("S3_SERVER_TOKEN") is None  # the token went to the child only

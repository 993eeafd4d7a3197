"""The workflow run's retriever servers (servers: per_run): one per index, started once Snakemake has marked the
index finished, used by every job whose index build and settings it serves, stopped with the run, also while it
is still starting."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from processes import group_pids

from s3core.config import schema as config
from s3core.plan.experiment import plan
from s3core.plan.servers import ROLES
from s3core.serving import provenance
from s3core.serving.run_servers import FINISHED_MARK, RunServers, RunService, announcement
from s3core.serving.sidecar import Sidecar
from s3core.stages.run_servers import plan_services
from s3core.stages.services import (
    RETRIEVERS_ENV,
    RetrieverAccess,
    retriever_client,
    retriever_service,
)

ROOT = Path(__file__).resolve().parents[1]


def wait_for(path, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def job_client(stack, access):
    """What an infer job does: a retriever client, and the provenance entry of the server it uses."""
    client = retriever_client(stack, "bm25", access)
    return client, provenance.SERVICES[-1]


def test_one_retriever_server_per_index_for_the_whole_run(
    tmp_path, monkeypatch, bm25_index, small_corpus, retriever_config
):
    monkeypatch.delenv(RETRIEVERS_ENV, raising=False)
    index = tmp_path / "index" / "wiki" / "bm25"
    shutil.copytree(bm25_index, index)  # the index job is still running: no finish mark yet
    servers = RunServers(tmp_path / "retrievers", RETRIEVERS_ENV)
    servers.start(
        [retriever_service("retriever-wiki-bm25", "bm25", index, small_corpus, retriever_config, tmp_path / "logs")]
    )
    state = tmp_path / "retrievers"
    time.sleep(1.5)
    assert (state / "retriever-wiki-bm25.pending").exists() and not (state / "retriever-wiki-bm25.json").exists()
    (index / FINISHED_MARK).touch()  # Snakemake marks the directory output finished
    wait_for(state / "retriever-wiki-bm25.json")
    assert (tmp_path / "logs" / "retriever-wiki-bm25.log").exists()

    access = RetrieverAccess(retriever_config, index, small_corpus, server_log=tmp_path / "job.log")
    with ExitStack() as stack:
        first, entry = job_client(stack, access)
        second, _ = job_client(stack, access)  # a second job: the same server
        assert first.url == second.url and not (tmp_path / "job.log").exists()  # no sidecar of its own
        assert entry["external"] is False and entry["served_by"]["log"].endswith("retriever-wiki-bm25.log")
        assert first.search(["Who wrote Lolita?"], 3)[0]
        run_pid = entry["served_by"]["pid"]

    other_settings = replace(access, retriever=replace(retriever_config, bm25=replace(retriever_config.bm25, k1=1.5)))
    with ExitStack() as stack:
        _, entry = job_client(stack, other_settings)  # a run with its own retriever settings: its own server
        assert entry["pid"] != run_pid and "served_by" not in entry
    mark = index / FINISHED_MARK
    os.utime(mark, ns=(1, 1))  # Snakemake's process marks it finished again: the same build
    with ExitStack() as stack:
        _, entry = job_client(stack, access)
        assert entry["served_by"]["pid"] == run_pid
    rebuilt = next(p for p in index.iterdir() if p.is_file() and p.name != FINISHED_MARK)
    os.utime(rebuilt, ns=(rebuilt.stat().st_atime_ns, rebuilt.stat().st_mtime_ns + 10**9))  # the index was rebuilt
    with ExitStack() as stack:
        _, entry = job_client(stack, access)  # the run's server holds the old build: the job starts its own
        assert entry["pid"] != run_pid and "served_by" not in entry

    servers.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(run_pid, 0)
    assert not list(state.iterdir())


def test_a_run_without_the_index_starts_no_server(tmp_path, monkeypatch, small_corpus, retriever_config):
    monkeypatch.delenv(RETRIEVERS_ENV, raising=False)
    servers = RunServers(tmp_path / "retrievers", RETRIEVERS_ENV)
    servers.start([retriever_service("r", "dense", tmp_path / "never", small_corpus, retriever_config, tmp_path)])
    servers.stop()  # the run ended before the index existed
    assert not list((tmp_path / "retrievers").iterdir())


def test_a_trained_searchers_server_waits_for_its_training_and_is_used_only_for_that_build(tmp_path, monkeypatch):
    from s3core.config.sections import parse
    from s3core.generation.run_servers import ENV, model_service, run_server_for_model

    folder = tmp_path / "train" / "s3" / "searcher"
    searcher = parse("searcher", {"model": str(folder), "inference": "vllm"})
    service = model_service("searcher-s3", str(folder), searcher.vllm, trained=True)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert not service.ready()  # the training is still writing it
    (folder / FINISHED_MARK).touch()
    assert service.ready()
    announced = tmp_path / "servers"
    announced.mkdir()
    (announced / "searcher-s3.json").write_text(json.dumps({"serves": str(folder), **service.facts(), "url": "u"}))
    monkeypatch.setenv(ENV, str(announced))
    assert run_server_for_model(str(folder), 1)["url"] == "u"
    os.utime(folder / "config.json", ns=(1, 1))  # trained again after the server started: not its server
    assert run_server_for_model(str(folder), 1) is None


#: A server that takes long to start, as vLLM importing under load: it ignores SIGINT and never becomes healthy
SLOW_SERVER = (
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('starting', flush=True); time.sleep(900)"
)
#: A run holding one slow server, its state in argv[1]; it prints the server's pid once the server starts
RUN_WITH_A_SLOW_SERVER = f"""
import sys, time
from pathlib import Path
from s3core.serving.run_servers import RunServers, RunService
from s3core.serving.sidecar import Sidecar
state = Path(sys.argv[1])
server = Sidecar([sys.executable, "-c", {SLOW_SERVER!r}], state / "slow.log", startup_timeout_s=60)
RunServers(state, "S3_TEST_SERVERS").start([RunService("slow", "model", lambda: True, lambda: server)])
while not (state / "slow.log").exists() or "starting" not in (state / "slow.log").read_text():
    time.sleep(0.1)
print(server.process.pid, flush=True)
time.sleep(900)
"""


def test_a_stop_while_a_server_starts_stops_it_without_waiting_for_it(tmp_path, monkeypatch):
    """`stop` while the server starts (it ignores SIGINT) returns once the server is gone: SIGTERM, no announcement,
    no failure noted (the start timeout, which the stop would otherwise have waited for, would note one)."""
    monkeypatch.setenv("S3_TEST_SERVERS", "")
    state = tmp_path / "servers"
    server = Sidecar([sys.executable, "-c", SLOW_SERVER], state / "slow.log", startup_timeout_s=60)
    servers = RunServers(state, "S3_TEST_SERVERS")
    servers.start([RunService("slow", "model", ready=lambda: True, sidecar=lambda: server)])
    wait_for(state / "slow.log")
    while "starting" not in (state / "slow.log").read_text():
        time.sleep(0.1)
    servers.stop()
    assert server.process.returncode == -signal.SIGTERM and group_pids(server.process.pid) == []
    assert sorted(p.name for p in state.iterdir()) == ["slow.log"]


def test_ctrl_c_while_the_run_server_starts_ends_the_run_and_the_server(tmp_path):
    """SIGINT to a run whose server is still starting: the run exits through its KeyboardInterrupt, the server's
    process group is gone, and the run did not wait out the server's start (no failure noted)."""
    state = tmp_path / "servers"
    state.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_WITH_A_SLOW_SERVER, str(state)], stdout=subprocess.PIPE, text=True
    )
    server = int(run.stdout.readline())
    run.send_signal(signal.SIGINT)
    assert run.wait(300) == -signal.SIGINT  # KeyboardInterrupt's exit; the bound only keeps a broken run from hanging
    assert group_pids(server) == []
    assert sorted(p.name for p in state.iterdir()) == ["slow.log"]


def test_a_server_whose_command_is_missing_is_reported_not_waited_for(tmp_path, monkeypatch):
    monkeypatch.setenv("S3_TEST_SERVERS", "")  # RunServers sets it; monkeypatch removes it after
    missing = partial(Sidecar, ["/nonexistent/vllm", "serve"], tmp_path / "s.log")
    servers = RunServers(tmp_path / "state", "S3_TEST_SERVERS")
    servers.start([RunService("searcher-s3", "model", lambda: True, missing)])
    wait_for(tmp_path / "state" / "searcher-s3.failed", 30)
    assert "/nonexistent/vllm" in (tmp_path / "state" / "searcher-s3.failed").read_text()
    assert not (tmp_path / "state" / "searcher-s3.pending").exists()  # a job fails at once with the reason
    servers.stop()


def test_a_server_stops_once_every_job_it_serves_is_done_and_starts_again_for_a_job_run_again(tmp_path, monkeypatch):
    monkeypatch.setenv("S3_TEST_SERVERS", "")
    monkeypatch.setattr("s3core.serving.run_servers.FINISHED_POLL_S", 0.2)
    state, output = tmp_path / "state", tmp_path / "answers.jsonl"
    http = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    server = partial(Sidecar, http, tmp_path / "http.log", health_path="/")
    servers = RunServers(state, "S3_TEST_SERVERS")
    servers.start([RunService("g", "model", lambda: True, server, finished=output.exists)])
    wait_for(state / "g.json")
    first = json.loads((state / "g.json").read_text())["pid"]
    output.touch()  # the last job it serves is done
    while (state / "g.json").exists():
        time.sleep(0.1)
    assert (state / "g.pending").exists() and group_pids(first) == []  # gone, and a job would wait for it
    output.unlink()  # Snakemake runs that job again: it deletes the job's outputs first
    wait_for(state / "g.json")
    assert json.loads((state / "g.json").read_text())["pid"] != first
    servers.stop()
    assert not list(state.iterdir())


@pytest.mark.parametrize("role", ROLES)
def test_each_run_server_is_finished_once_the_outputs_of_the_jobs_using_it_exist(tmp_path, monkeypatch, role):
    monkeypatch.chdir(tmp_path)  # the plan's paths are relative to the workflow's directory
    paper = plan({**config.load(ROOT / "config" / "paper.yaml"), "servers": "per_run_slurm"})
    server = next(s for s in paper.run_servers() if s.role == role)
    [service] = [s for _, services in plan_services(paper) for s in services if s.name == server.name]
    *others, last = server.outputs
    for path in map(Path, others):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    assert others and not service.finished()
    Path(last).parent.mkdir(parents=True, exist_ok=True)
    Path(last).touch()
    assert service.finished()


class InstantServer:
    """A server that is up at once and stops when asked."""

    url = "http://instant"
    record = {"pid": 1}

    def start(self, cancel=None):
        return self.record

    def stop(self):
        pass


def test_a_run_server_records_how_long_it_was_held(tmp_path, monkeypatch):
    monkeypatch.setenv("S3_TEST_SERVERS", "")  # RunServers sets it; monkeypatch removes it after
    servers = RunServers(tmp_path / "state", "S3_TEST_SERVERS", tmp_path / "held")
    servers.start([RunService("m", "model", lambda: True, InstantServer)])
    wait_for(tmp_path / "held" / "m.tsv", timeout_s=30)
    assert pd.read_csv(tmp_path / "held" / "m.tsv", sep="\t").running.item()  # so far, while it serves
    servers.stop()
    record = pd.read_csv(tmp_path / "held" / "m.tsv", sep="\t")  # as a Snakemake benchmark file: `s`
    assert not record.running.item() and record.s.item() >= 0


def test_an_on_demand_server_starts_when_a_job_asks_for_it(tmp_path, monkeypatch):
    """The SLURM server jobs: none holds a GPU before its first user asks (`announcement` writes the ask)."""
    monkeypatch.setenv("S3_TEST_SERVERS", "")
    state = tmp_path / "state"
    servers = RunServers(state, "S3_TEST_SERVERS", on_demand=True)
    servers.start([RunService("m", "model", lambda: True, InstantServer)])
    time.sleep(2.5)  # ready for two polls, not asked: still pending, no server
    assert (state / "m.pending").exists() and not (state / "m.json").exists()
    assert announcement(state, "m", timeout_s=30) == {"serves": "model", "pid": 1}  # a job asks, and waits
    servers.stop()
    assert not list(state.iterdir())  # the ask is gone with the run

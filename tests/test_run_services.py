"""The workflow run's retriever servers (servers: per_run): one per index, started once Snakemake has marked the
index finished, used by every job whose index build and settings it serves, stopped with the run."""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import ExitStack
from dataclasses import replace

import pytest

from s3core.serving import provenance
from s3core.serving.run_servers import FINISHED_MARK, RunServers
from s3core.stages.services import (
    RETRIEVERS_ENV,
    RetrieverAccess,
    retriever_client,
    retriever_services,
)


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
    servers.start(retriever_services([("bm25", index, small_corpus)], retriever_config, tmp_path / "logs"))
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
    os.utime(mark, ns=(mark.stat().st_atime_ns, mark.stat().st_mtime_ns + 10**9))  # the index was rebuilt
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
    servers.start(retriever_services([("dense", tmp_path / "never", small_corpus)], retriever_config, tmp_path))
    servers.stop()  # the run ended before the index existed
    assert not list((tmp_path / "retrievers").iterdir())


def test_a_trained_searchers_server_waits_for_its_training_and_is_used_only_for_that_build(tmp_path, monkeypatch):
    from s3core.config.sections import parse
    from s3core.generation.run_servers import ENV, run_server_for_model, searcher_services

    folder = tmp_path / "train" / "s3" / "searcher"
    searcher = parse("searcher", {"model": str(folder), "inference": "vllm"})
    [service] = searcher_services({"s3": searcher, "s3.hf": replace(searcher, inference="hf")})
    assert (service.name, service.serves) == ("searcher-s3", str(folder))  # only the searcher that runs on vLLM
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
    os.utime(folder / FINISHED_MARK, ns=(1, 1))  # trained again after the server started: not its server
    assert run_server_for_model(str(folder), 1) is None

"""The retriever server over real HTTP on a free loopback port, its client, the sidecar, and the batcher."""

import asyncio
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import numpy as np
import pytest
from processes import session_nice

from s3core import __version__
from s3core.data.corpus import Document
from s3core.errors import ServiceError
from s3core.retrieval.base import load_retriever
from s3core.retrieval.batcher import DynamicBatcher
from s3core.retrieval.client import RetrieverClient
from s3core.serving.sidecar import Sidecar, free_port
from s3core.stages.services import serve_command


@pytest.fixture(scope="module", params=["never", "always"], ids=["one-process", "search-process"])
def server(request, tmp_path_factory, dense_index, small_corpus, retriever_config):
    """The dense server, ranking in its own process (search_process: always) and in the HTTP server's."""
    limits = replace(
        retriever_config.server,
        max_topk=10,
        max_queries=20,
        max_query_chars=200,
        search_process=request.param,
        max_body_bytes=8192,
        body_timeout_s=1.5,
    )
    retriever = replace(retriever_config, server=limits)
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with Sidecar(serve_command("dense", dense_index, small_corpus, retriever), log) as sidecar:
        yield sidecar


def test_health_and_contract(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{server.url}/health").json() == {
        "status": "ok",
        "retriever": "dense",
        "documents": 60,
        "batching": True,
        "s3core": __version__,
    }
    body = httpx.post(
        f"{server.url}/retrieve", json={"queries": ["jupiter", "paris"], "topk": 2, "return_scores": True}
    ).json()
    assert len(body["result"]) == 2 and all(len(r) == 2 for r in body["result"])
    hit = body["result"][0][0]
    assert set(hit) == {"document", "score"} and set(hit["document"]) == {"id", "contents"}
    assert Document.from_row(hit["document"]).title == "Jupiter"
    plain = httpx.post(f"{server.url}/retrieve", json={"queries": ["jupiter"]}).json()
    assert set(plain["result"][0][0]) == {"id", "contents"} and len(plain["result"][0]) == 3  # default topk


def test_stats_count_searches_queries_and_seconds_per_stage(server):
    before = httpx.get(f"{server.url}/stats").json()
    httpx.post(f"{server.url}/retrieve", json={"queries": ["jupiter", "paris", "rome"], "topk": 2})
    after = httpx.get(f"{server.url}/stats").json()
    assert after["retriever"] == "dense"
    assert (after["searches"] - before.get("searches", 0), after["queries"] - before.get("queries", 0)) == (1, 3)
    assert after["scans"] - before.get("scans", 0) == pytest.approx(1)
    for stage in ("encode_s", "search_s", "documents_s"):
        assert after[stage] > before.get(stage, 0.0)


@pytest.mark.parametrize(
    "payload,status,needle",
    [
        ({"queries": ["x"], "topk": 11}, 400, "max_topk"),
        ({"queries": ["x"], "topk": 0}, 400, "max_topk"),
        ({"queries": ["x"] * 21}, 413, "max_queries"),
        ({"queries": ["x" * 201]}, 413, "max_query_chars"),
        ({"queries": []}, 400, "empty"),
        ({"queries": "not a list"}, 422, "queries"),
    ],
)
def test_limits_give_clear_4xx(server, payload, status, needle):
    response = httpx.post(f"{server.url}/retrieve", json=payload)
    assert response.status_code == status and needle in response.text


def test_an_oversized_body_is_refused_before_it_is_read(server):
    body = json.dumps({"queries": ["x" * 100] * 100})  # 10 kB > max_body_bytes 8192
    declared = httpx.post(f"{server.url}/retrieve", content=body, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "limit is 8192 (max_body_bytes)" in declared.text

    def chunks():  # no Content-Length: counted as it comes
        for _ in range(20):
            yield b" " * 1000

    streamed = httpx.post(f"{server.url}/retrieve", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "max_body_bytes" in streamed.text
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_body_that_never_arrives_gets_408_and_the_connection_is_closed(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )  # headers, then nothing
        answer = b""
        while chunk := sock.recv(4096):  # ends when the server closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in answer


def test_the_server_publishes_no_api_docs(server):
    assert [httpx.get(f"{server.url}{path}").status_code for path in ("/docs", "/redoc", "/openapi.json")] == [404] * 3


def test_a_query_that_is_not_text_fails_alone_not_its_batch(server):
    bad = '{"queries": ["jupiter \\ud800 moon"], "topk": 2}'  # valid JSON: a lone surrogate
    good = [{"queries": [word], "topk": 2} for word in ("jupiter", "paris", "rome", "music")]
    with ThreadPoolExecutor(5) as pool:  # sent together: batched together
        sent = [
            pool.submit(httpx.post, f"{server.url}/retrieve", content=bad, headers={"content-type": "application/json"})
        ]
        sent += [pool.submit(httpx.post, f"{server.url}/retrieve", json=body) for body in good]
        responses = [future.result() for future in sent]
    assert responses[0].status_code == 400 and "query 1 is not valid Unicode text" in responses[0].text
    assert [r.status_code for r in responses[1:]] == [200] * 4


def test_concurrent_clients_match_in_process_search(server, dense_index, small_corpus, retriever_config):
    queries = [
        f"{word} history"
        for word in [
            "river",
            "planet",
            "mountain",
            "poet",
            "physics",
            "capital",
            "music",
            "war",
            "ocean",
            "king",
            "city",
            "art",
        ]
        * 3
    ]
    client = RetrieverClient(server.url, retriever_config.client)
    with ThreadPoolExecutor(16) as pool:
        remote = list(pool.map(lambda q: [d.id for d in client.search([q], 4)[0]], queries))
    local = load_retriever("dense", dense_index, small_corpus, retriever_config).search(queries, 4)
    assert remote == [[d.id for d, _ in hits] for hits in local]


def test_client_batches_large_query_lists(server, retriever_config):
    client = RetrieverClient(server.url, replace(retriever_config.client, batch_size=7))
    results = client.search([f"query {i}" for i in range(30)], 2)  # 5 requests, each under max_queries
    assert len(results) == 30 and all(len(r) == 2 for r in results)
    with pytest.raises(ServiceError, match="rejected the request \\(400\\)"):
        client.search(["x"], 50)  # a 4xx is not retried


def test_client_reports_down_server_after_retries(retriever_config):
    url = f"http://127.0.0.1:{free_port()}"
    client = RetrieverClient(url, replace(retriever_config.client, retries=2, backoff_s=0.01))
    start = time.monotonic()
    with pytest.raises(ServiceError, match=r"failed after 3 attempt\(s\).*server running"):
        client.search(["x"], 3)
    assert time.monotonic() - start >= 0.03  # backoff 0.01 + 0.02 was slept


def test_a_hung_server_fails_its_caller_at_the_deadline_not_after_every_retry(retriever_config):
    """A server that accepts connections and never answers: each attempt would wait its whole timeout and the
    backoff after it (6 attempts, ~8 s here; 375 s with the demo's client settings) without a total deadline."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: [accepted.append(listener.accept()) for _ in range(10)], daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    client = RetrieverClient(
        url, replace(retriever_config.client, timeout_s=1.0, retries=5, backoff_s=0.5, deadline_s=2.0)
    )
    with pytest.raises(ServiceError, match=r"failed after [12] attempt\(s\) in .* within the 2 s deadline"):
        client.search(["x"], 3)
    assert len(accepted) <= 2
    listener.close()


def test_sidecar_failure_shows_log_and_leaves_no_process(tmp_path, small_corpus, retriever_config):
    log = tmp_path / "bad.log"
    with pytest.raises(ServiceError, match="exited with code") as err:
        Sidecar(serve_command("bm25", tmp_path / "no-index", small_corpus, retriever_config), log).start()
    assert "no-index" in str(err.value)  # the log tail names the missing index


def test_server_killed_mid_run_gives_clear_error(tmp_path, bm25_index, small_corpus, retriever_config):
    sidecar = Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_config), tmp_path / "s.log")
    with sidecar:
        client = RetrieverClient(sidecar.url, replace(retriever_config.client, retries=1, backoff_s=0.01))
        assert client.search(["jupiter"], 1)[0][0].title == "Jupiter"
        os.killpg(sidecar.process.pid, signal.SIGKILL)
        sidecar.process.wait()
        with pytest.raises(ServiceError, match=sidecar.url):
            client.search(["jupiter"], 1)
    assert not sidecar.alive()


def test_sidecar_stop_terminates_process_group(tmp_path, bm25_index, small_corpus, retriever_config):
    with Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_config), tmp_path / "s.log") as s:
        pid = s.process.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_a_sidecar_runs_at_the_cpu_priority_it_was_given(tmp_path):
    """A run's server on a workstation yields the CPU to the jobs that compute beside it (`vllm.nice`)."""
    command = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    with Sidecar(command, tmp_path / "http.log", health_path="/", nice=5) as lowered:
        assert os.getpriority(os.PRIO_PROCESS, lowered.process.pid) == min(ours + 5, 19)
        # its session of its own yields too where the kernel schedules sessions as groups (autogroup)
        assert session_nice(lowered.process.pid) in (None, 5)
    with Sidecar(command, tmp_path / "http.log", health_path="/") as plain:
        assert os.getpriority(os.PRIO_PROCESS, plain.process.pid) == ours


def _job_with_a_sidecar(tmp_path) -> tuple[subprocess.Popen, int]:
    """A job (a Python process whose SIGTERM unwinds it, as `s3core` verbs') running an HTTP server as its
    sidecar; the job and the sidecar's pid."""
    script = (
        "import sys, time\n"
        "from s3core.serving.sidecar import Sidecar, exit_on_sigterm\n"
        "with exit_on_sigterm(), Sidecar([sys.executable, '-m', 'http.server', '{port}', '--bind', '127.0.0.1'],"
        f" {str(tmp_path / 'http.log')!r}, health_path='/') as s:\n"
        "    print(s.process.pid, flush=True)\n"
        "    time.sleep(120)\n"
    )
    job = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server_pid = int(job.stdout.readline())
    os.killpg(server_pid, 0)  # the sidecar runs
    return job, server_pid


def test_sigterm_to_the_job_stops_its_sidecar(tmp_path):
    """scancel / preemption sends SIGTERM to the job: its sidecar must not outlive it."""
    job, server_pid = _job_with_a_sidecar(tmp_path)
    job.send_signal(signal.SIGTERM)
    assert job.wait(30) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.killpg(server_pid, 0)


def test_a_sidecar_dies_with_a_job_killed_outright(tmp_path):
    """SIGKILL (OOM killer, scancel --signal=KILL) leaves the job no chance to stop its sidecar: the kernel must
    (the parent-death signal), or the server keeps its port and memory forever."""
    job, server_pid = _job_with_a_sidecar(tmp_path)
    job.kill()
    assert job.wait(30) == -signal.SIGKILL
    for _ in range(300):  # the kernel's SIGTERM, then the server's shutdown
        state = subprocess.run(["ps", "-o", "stat=", "-p", str(server_pid)], capture_output=True, text=True)
        if state.stdout.strip() in ("", "Z"):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"sidecar {server_pid} outlived its SIGKILLed job")


def test_batcher_merges_waiting_requests_and_slices_topk():
    release = threading.Event()
    calls = []

    def blocking_search(queries, topk):
        calls.append((list(queries), topk))
        release.wait(5)
        return [[(Document(f"{q}-{i}", q, ""), float(-i)) for i in range(topk)] for q in queries]

    async def search(queries, topk):
        return await asyncio.to_thread(blocking_search, queries, topk)

    async def scenario():
        batcher = DynamicBatcher(search, max_batch=100)
        batcher.start()
        first = asyncio.create_task(batcher.submit(["a"], 1))
        await asyncio.sleep(0.05)  # the worker is now blocked inside search(["a"])
        rest = [asyncio.create_task(batcher.submit([f"q{i}", f"r{i}"], 1 + i % 3)) for i in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert calls[0] == (["a"], 1)
    assert len(calls) == 2 and len(calls[1][0]) == 10 and calls[1][1] == 3  # one merged batch, largest topk
    for i, result in enumerate(results[1:]):
        assert [[d.id for d, _ in row] for row in result] == [
            [f"q{i}-{j}" for j in range(1 + i % 3)],
            [f"r{i}-{j}" for j in range(1 + i % 3)],
        ]


def test_batcher_propagates_search_errors():
    async def search(queries, topk):
        raise RuntimeError("index exploded")

    async def scenario():
        batcher = DynamicBatcher(search, max_batch=8)
        batcher.start()
        try:
            await batcher.submit(["a"], 1)
        finally:
            await batcher.stop()

    with pytest.raises(RuntimeError, match="index exploded"):
        asyncio.run(scenario())


def test_batcher_stops_taking_requests_at_max_batch():
    release = threading.Event()
    sizes = []

    def blocking_search(queries, topk):
        sizes.append(len(queries))
        release.wait(5)
        return [[] for _ in queries]

    async def search(queries, topk):
        return await asyncio.to_thread(blocking_search, queries, topk)

    async def scenario():
        batcher = DynamicBatcher(search, max_batch=3)
        batcher.start()
        first = asyncio.create_task(batcher.submit(["a"], 1))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit([f"q{i}"], 1)) for i in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *rest)
        await batcher.stop()

    asyncio.run(scenario())
    assert sizes == [1, 3, 2]


def test_batcher_keeps_in_flight_searches_running_at_once():
    running, most = 0, 0

    async def search(queries, topk):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return [[] for _ in queries]

    async def scenario(in_flight):
        batcher = DynamicBatcher(search, max_batch=1, in_flight=in_flight)
        batcher.start()
        await asyncio.gather(*(batcher.submit([f"q{i}"], 1) for i in range(6)))
        await batcher.stop()
        return most

    assert asyncio.run(scenario(2)) == 2
    most = 0
    assert asyncio.run(scenario(1)) == 1


def test_a_dead_search_process_is_reported_not_waited_for(tmp_path, dense_index, small_corpus, retriever_config):
    retriever = replace(retriever_config, server=replace(retriever_config.server, search_process="always"))
    with Sidecar(serve_command("dense", dense_index, small_corpus, retriever), tmp_path / "server.log") as server:
        assert httpx.post(f"{server.url}/retrieve", json={"queries": ["jupiter"]}).status_code == 200
        found = subprocess.run(
            ["pgrep", "-P", str(server.process.pid), "-f", "spawn_main"], capture_output=True, text=True
        ).stdout.split()
        assert len(found) == 1
        os.kill(int(found[0]), signal.SIGKILL)
        time.sleep(1)
        health = httpx.get(f"{server.url}/health")
        assert health.status_code == 503 and "search process" in health.json()["detail"]
        response = httpx.post(f"{server.url}/retrieve", json={"queries": ["jupiter"]})
        assert response.status_code == 503 and "exited with code -9" in response.json()["detail"]
        assert server.alive()


def test_a_search_process_that_cannot_load_says_why(tmp_path, dense_index, small_corpus, retriever_config):
    from s3core.retrieval.search_process import ProcessDenseRetriever

    for name in ("offsets.npy", "s3_dense.json"):  # everything but the index file
        shutil.copy(dense_index / name, tmp_path / name)
    with pytest.raises(ServiceError, match="(?s)could not load the dense index.*index.faiss"):
        ProcessDenseRetriever(tmp_path, small_corpus, retriever_config.dense, startup_timeout_s=120)


class _BruteForce:
    """A ranker over fixed unit vectors, counting its scans."""

    def __init__(self, rows):
        self.rows, self.scans = rows, 0

    def search(self, vectors, topk):
        self.scans += 1
        scores = vectors @ self.rows.T
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :topk]
        return np.take_along_axis(scores, ids, axis=1), ids


def test_batches_waiting_together_are_searched_in_one_scan():
    from s3core.retrieval.search_process import _search_together, _waiting_batches

    rng = np.random.default_rng(0)
    ranker = _BruteForce(rng.standard_normal((50, 8)))
    waiting = queue.Queue()
    batches = [
        (number, rng.standard_normal((size, 8)), topk, 0.01) for number, size, topk in [(1, 3, 2), (2, 1, 5), (3, 4, 1)]
    ]
    for batch in batches:
        waiting.put(batch)
    waiting.put(None)
    sent = []
    together = _waiting_batches(waiting)
    assert [number for number, *_ in together] == [1, 2, 3] and _waiting_batches(waiting) == []
    _search_together(ranker, together, sent.append)
    assert ranker.scans == 1 and [message[0] for message in sent] == [1, 2, 3]
    for (_, vectors, topk, _), (_, scores, ids, figures) in zip(batches, sent):
        alone_scores, alone_ids = _BruteForce(ranker.rows).search(vectors, topk)
        assert ids.tolist() == alone_ids.tolist() and np.allclose(scores, alone_scores)
        assert figures["scans"] == pytest.approx(len(vectors) / 8) and figures["encode"] == 0.01
    assert sum(figures["scans"] for *_, figures in sent) == pytest.approx(1)

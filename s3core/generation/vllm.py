"""Backend "vllm": the job starts its own vLLM OpenAI-compatible server as a sidecar on a free loopback port,
talks to it like any OpenAI endpoint, and stops it when the process ends (normally, on an error, or on SIGTERM,
which the CLI turns into a clean exit). Where the workflow run started one server for the whole run
(`servers: per_run`, see run_servers), the job talks to that one instead."""

from __future__ import annotations

import atexit
import os
from dataclasses import replace
from pathlib import Path

from s3core.config.sections import GeneratorConfig, VLLMServerConfig
from s3core.generation.openai_http import OpenAIGenerator
from s3core.serving.sidecar import Sidecar


def vllm_command(model: str, server: VLLMServerConfig, host: str = "127.0.0.1") -> list[str]:
    """`vllm serve <model>` on `host` with the server's settings; `{port}` is filled in by the sidecar. The server
    schedules by request priority (`request_priority`); requests of equal priority go first come, first served."""
    return [
        *server.command,
        model,
        "--host",
        host,
        "--port",
        "{port}",
        "--served-model-name",
        model,
        "--tensor-parallel-size",
        str(server.tensor_parallel_size),
        "--max-model-len",
        str(server.max_model_len),
        "--gpu-memory-utilization",
        str(server.gpu_memory_utilization),
        "--scheduling-policy",
        "priority",
        *server.extra_args,
    ]


def vllm_sidecar(
    name: str, model: str, server: VLLMServerConfig, host: str = "127.0.0.1", env: dict[str, str] | None = None
) -> Sidecar:
    """The (unstarted) server `name` of `model`; its log is `<log_dir>/<name>.log` and vLLM's caches (compiled
    graphs, ...) go under `<log_dir>/cache` unless VLLM_CACHE_ROOT says otherwise; `server.env` goes over `env`
    (by default this process's environment)."""
    env = {**(os.environ if env is None else env), **server.env}
    env.setdefault("VLLM_CACHE_ROOT", str(Path(server.log_dir).resolve() / "cache"))
    return Sidecar(
        vllm_command(model, server, host),
        Path(server.log_dir) / f"{name}.log",
        host=host,
        startup_timeout_s=server.startup_timeout_s,
        role=f"generator:{name}",
        version_path="/version",
        env=env,
        nice=server.nice,
    )


class VLLMGenerator(OpenAIGenerator):
    """An OpenAI client of a vLLM server that this object started on `host` (loopback unless other nodes must
    reach it); `close` (or interpreter exit) stops it."""

    def __init__(self, name: str, config: GeneratorConfig, host: str = "127.0.0.1", env: dict[str, str] | None = None):
        self.sidecar = vllm_sidecar(name, config.model, config.vllm, host, env)
        self.sidecar.start()
        atexit.register(self.sidecar.stop)
        super().__init__(name, replace(config, base_url=f"{self.sidecar.url}/v1"))

    def close(self) -> None:
        self.sidecar.stop()
        atexit.unregister(self.sidecar.stop)

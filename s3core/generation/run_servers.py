"""One vLLM server per generator for a whole workflow run (config `generator_servers: per_run`): a vLLM start costs
25-110 s, so on a workstation the run starts each `backend: vllm` generator's server once and every job reaches it
over HTTP. Snakemake's `onstart` starts a RunServers: a thread per generator waits until the model folder exists
(rule convert_llm may still have to build it), starts the server, announces it and holds it until `onsuccess`,
`onerror` or interpreter exit stops it (the kernel stops it if Snakemake itself is killed: the thread that started
it ends). The folder named by the environment variable S3_GENERATOR_SERVERS (jobs inherit it) holds, per
generator, `<name>.pending` until its server is up, then `<name>.json` (URL, model, pid, command, version, log), or
`<name>.failed` with the reason."""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from s3core.atomic import atomic_open
from s3core.errors import ServiceError
from s3core.generation.vllm import vllm_sidecar
from s3core.run_models import is_hub_id
from s3core.sections import GeneratorConfig

ENV = "S3_GENERATOR_SERVERS"


class RunServers:
    """The run's generator servers, one thread each: `start` them for the `backend: vllm` entries of `generators`,
    `stop` them all."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, generators: dict[str, GeneratorConfig]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name, generator in generators.items():
            if generator.backend == "vllm":
                _clear(self.state_dir, name)
                (self.state_dir / f"{name}.pending").write_text(generator.model)
                # a daemon: at exit Python joins other threads before it runs atexit's stop
                thread = threading.Thread(target=self._serve, args=(name, generator), name=f"vllm-{name}", daemon=True)
                thread.start()
                self.threads.append(thread)
        os.environ[ENV] = str(self.state_dir)
        atexit.register(self.stop)

    def _serve(self, name: str, generator: GeneratorConfig) -> None:
        """Wait for the model, start its server, announce it, hold it until `stop`."""
        model = Path(generator.model)
        while not is_hub_id(generator.model):  # a local folder (a job may still be building it): wait for it
            if (model / "config.json").exists() or self.stopping.wait(1.0):
                break
        if self.stopping.is_set():
            return _clear(self.state_dir, name)
        sidecar = vllm_sidecar(name, generator.model, generator.vllm)
        try:
            sidecar.start()
        except ServiceError as exc:
            (self.state_dir / f"{name}.failed").write_text(str(exc))
            (self.state_dir / f"{name}.pending").unlink(missing_ok=True)
            return
        with atomic_open(self.state_dir / f"{name}.json", "w") as handle:
            json.dump({"model": generator.model, **sidecar.record}, handle, indent=1)
        (self.state_dir / f"{name}.pending").unlink(missing_ok=True)
        self.stopping.wait()
        (self.state_dir / f"{name}.json").unlink(missing_ok=True)
        sidecar.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.threads.clear()
        atexit.unregister(self.stop)


def _clear(state_dir: Path, name: str) -> None:
    for suffix in (".pending", ".json", ".failed"):
        (state_dir / f"{name}{suffix}").unlink(missing_ok=True)


def _state_folder() -> Path | None:
    folder = os.environ.get(ENV)
    return Path(folder) if folder else None


def _announcement(folder: Path, name: str, timeout_s: float) -> dict[str, Any] | None:
    """The announcement of generator `name`'s run server, waiting while it starts (None: the run has none for
    it). A server that failed to start, or did not start within `timeout_s`, is an error."""
    deadline = time.monotonic() + timeout_s
    while (folder / f"{name}.pending").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    if (failed := folder / f"{name}.failed").exists():
        raise ServiceError(f"the run's vLLM server for generator {name} did not start: {failed.read_text()}")
    if (folder / f"{name}.pending").exists():
        raise ServiceError(
            f"the run's vLLM server for generator {name} is not up after {timeout_s:.0f} s (vllm.startup_timeout_s)"
        )
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_server(name: str, generator: GeneratorConfig) -> dict[str, Any] | None:
    """The run's server for generator `name` when it serves that generator's model (see `_announcement`)."""
    folder = _state_folder()
    server = _announcement(folder, name, generator.vllm.startup_timeout_s) if folder else None
    return server if server and server["model"] == generator.model else None


def run_server_for_model(model: str, timeout_s: float) -> dict[str, Any] | None:
    """The run's server of any generator serving `model` (see `_announcement`), or None."""
    folder = _state_folder()
    if folder is None:
        return None
    starting = [p.stem for p in folder.glob("*.pending") if p.read_text() == model]
    started = [p.stem for p in folder.glob("*.json") if json.loads(p.read_text())["model"] == model]
    for name in sorted({*starting, *started}):
        if server := _announcement(folder, name, timeout_s):
            return server
    return None

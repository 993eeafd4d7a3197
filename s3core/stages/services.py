"""The retriever a job queries: a running server (`--retriever-url`), the workflow run's server of its index
(`servers: per_run`), or a sidecar it starts over the index; and the generators that answer and judge."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3core.config.sections import GeneratorConfig, JudgeConfig, RetrieverConfig, to_dict
from s3core.errors import S3Error
from s3core.serving.run_servers import RunService, build_stamp, served_by_entry, server_for
from s3core.serving.sidecar import Sidecar
from s3core.serving.slurm_server import server_token

if TYPE_CHECKING:
    from s3core.generation import Generator
    from s3core.retrieval.client import RetrieverClient

#: The environment variable naming the folder of the run's retriever servers (s3core.serving.run_servers)
RETRIEVERS_ENV = "S3_RETRIEVER_SERVERS"


@dataclass(frozen=True)
class RetrieverAccess:
    """Where a job's retriever comes from: `url` of a running server, else a sidecar over `index` and `corpus`
    (its log at `server_log`), with the `retriever` config section's server and client settings."""

    retriever: RetrieverConfig
    index: Path | None = None
    corpus: Path | None = None
    url: str | None = None
    server_log: Path = Path("retriever-sidecar.log")


@dataclass(frozen=True)
class Answering:
    """The frozen generator that answers (`generator`, a key of `generators`) and the `judge` config section."""

    generator: str
    generators: dict[str, GeneratorConfig]
    judge: JudgeConfig

    def check(self) -> None:
        if self.generator not in self.generators:
            raise S3Error(f"generator {self.generator!r} is not in config 'generators' ({sorted(self.generators)})")

    def load(self) -> tuple[Generator, Generator | None]:
        """The generator and the judge (None when judging is off)."""
        from s3core.generation import load_answerers

        self.check()
        return load_answerers(self.generator, self.generators, self.judge)


def serve_command(
    kind: str, index: Path, corpus: Path, retriever: RetrieverConfig, host: str = "127.0.0.1"
) -> list[str]:
    """The command line that starts a retriever server on `host`, port `{port}` (for a Sidecar)."""
    return [
        sys.executable,
        "-m",
        "s3core.cli",
        "serve",
        "--kind",
        kind,
        "--index",
        str(index),
        "--corpus",
        str(corpus),
        "--config",
        json.dumps({"retriever": to_dict(retriever)}),
        "--host",
        host,
        "--port",
        "{port}",
    ]


def retriever_sidecar(
    kind: str, index: Path, corpus: Path, retriever: RetrieverConfig, log: Path, host: str = "127.0.0.1"
) -> Sidecar:
    """The (unstarted) retriever server over `index` and `corpus`, logging to `log`."""
    command = serve_command(kind, index, corpus, retriever, host)
    timeout = retriever.server.startup_timeout_s
    return Sidecar(command, log, host=host, startup_timeout_s=timeout, role=f"retriever:{kind}")


def retriever_client(stack: ExitStack, kind: str, access: RetrieverAccess, host: str = "127.0.0.1") -> RetrieverClient:
    """A client of the running server `access.url`, of the run's server over the job's index, or of a sidecar
    server over its index and corpus on `host` (stopped with `stack`)."""
    from s3core.retrieval.client import RetrieverClient
    from s3core.serving.provenance import record_service, service_version

    url, token = access.url, None
    if url:
        record_service(f"retriever:{kind}", url, external=True, version=service_version(url, "/health"))
    elif server := run_retriever(kind, access):
        url, token = server["url"], server_token(server)
        record_service(f"retriever:{kind}", url, external=False, version=server["version"], **served_by_entry(server))
    else:
        if not (access.index and access.corpus):
            raise S3Error(f"{kind} retrieval needs --index and --corpus (or --retriever-url)")
        sidecar = retriever_sidecar(kind, access.index, access.corpus, access.retriever, access.server_log, host)
        url = stack.enter_context(sidecar).url
    client = RetrieverClient(url, access.retriever.client, token)
    stack.callback(client.close)
    return client


def retriever_service(
    name: str, kind: str, index: Path, corpus: Path, retriever: RetrieverConfig, log_dir: Path
) -> RunService:
    """A run server `name` over the (kind, index folder, corpus), started once Snakemake has marked the index
    finished; its log is `<log_dir>/<name>.log`."""
    return RunService(
        name,
        _serves(kind, index),
        partial(_finished, index, corpus),
        partial(retriever_sidecar, kind, Path(index), Path(corpus), retriever, Path(log_dir) / f"{name}.log"),
        partial(_index_facts, index, retriever),
    )


def run_retriever(kind: str, access: RetrieverAccess) -> dict[str, Any] | None:
    """The announcement of the run's server over the job's index when it serves the index as it is now (not an
    earlier build) with the job's retriever settings, else None."""
    if not access.index:
        return None
    server = server_for(RETRIEVERS_ENV, _serves(kind, access.index), access.retriever.server.startup_timeout_s)
    return server if server and server["index"] == _index_facts(access.index, access.retriever)["index"] else None


def _serves(kind: str, index: Path | str) -> str:
    return f"{kind}:{Path(index)}"


def _finished(index: Path | str, corpus: Path | str) -> bool:
    return build_stamp(index) is not None and Path(corpus).exists()


def _index_facts(index: Path | str, retriever: RetrieverConfig) -> dict[str, Any]:
    """What a job checks before it uses the run's server: the index build (its finish mark's time) and the server's
    settings (the `retriever` section but the client's), as JSON holds them."""
    settings = {key: value for key, value in to_dict(retriever).items() if key != "client"}
    facts = {"built_ns": build_stamp(index), "settings": settings}
    return {"index": json.loads(json.dumps(facts))}

"""The retriever a job queries: a running server (`--retriever-url`) or a sidecar it starts over an index, and the
generators that answer and judge."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from s3core.errors import S3Error
from s3core.sections import GeneratorConfig, JudgeConfig, RetrieverConfig, to_dict

if TYPE_CHECKING:
    from s3core.generation import Generator
    from s3core.retrieval.client import RetrieverClient


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


def retriever_client(stack: ExitStack, kind: str, access: RetrieverAccess, host: str = "127.0.0.1") -> RetrieverClient:
    """A client of the running server `access.url`, or of a sidecar server over its index and corpus on `host`
    (stopped with `stack`)."""
    from s3core.provenance import record_service, service_version
    from s3core.retrieval.client import RetrieverClient
    from s3core.sidecar import Sidecar

    url = access.url
    if url:
        record_service(f"retriever:{kind}", url, external=True, version=service_version(url, "/health"))
    else:
        if not (access.index and access.corpus):
            raise S3Error(f"{kind} retrieval needs --index and --corpus (or --retriever-url)")
        command = serve_command(kind, access.index, access.corpus, access.retriever, host)
        timeout = access.retriever.server.startup_timeout_s
        sidecar = Sidecar(command, access.server_log, host=host, startup_timeout_s=timeout, role=f"retriever:{kind}")
        url = stack.enter_context(sidecar).url
    client = RetrieverClient(url, access.retriever.client)
    stack.callback(client.close)
    return client

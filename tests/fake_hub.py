"""A stand-in for the Hugging Face hub (and raw GitHub) on a loopback port, speaking the protocol that
huggingface_hub's downloads use: HEAD/GET `/<datasets/>repo/resolve/<revision>/<path>` with X-Repo-Commit, ETag
(sha256 for large "LFS" files, the git blob sha1 otherwise) and Content-Length; Range requests (206); 404 with
X-Error-Code EntryNotFound / RevisionNotFound / RepoNotFound; the revision and tree APIs. Raw GitHub files live under
`/github/<owner>/<repo>/<revision>/<path>`. `cut_after` drops the connection once, mid-file, to test resuming."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_MIN = 1024  # files at least this large are served as LFS files (sha256 ETag)


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = ""  # default: a sha1 of the file listing

    def __post_init__(self) -> None:
        self.commit = self.commit or hashlib.sha1(json.dumps(sorted(self.files)).encode()).hexdigest()
        self._etags: dict[str, tuple[int, str]] = {}

    def etag(self, path: str) -> str:
        """The file's ETag, hashed once per content (a test may replace a file's bytes)."""
        data = self.files[path]
        if self._etags.get(path, (None,))[0] != id(data):
            self._etags[path] = (id(data), etag(data))
        return self._etags[path][1]


def etag(data: bytes) -> str:
    """The hub's ETag of a file: sha256 for an LFS file, else the git blob sha1."""
    if len(data) >= LFS_MIN:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass
class FakeHub:
    repos: dict[tuple[str, str], Repo]  # (kind, repo id) -> files; kind model | dataset | github
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops once
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    authorizations: list[str | None] = field(default_factory=list)  # the Authorization header of each

    def start(self) -> str:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.answer(self, body=False)

            def do_GET(self):
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _route(self, path: str) -> tuple[str, str, str, str] | None:
        """(kind, repo, revision, file) of a resolve or raw-GitHub URL."""
        if found := re.match(r"^/github/([^/]+/[^/]+)/([^/]+)/(.+)$", path):
            return "github", found[1], found[2], found[3]
        if found := re.match(r"^/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path):
            return ("dataset" if found[1] else "model"), found[2], found[3], found[4]
        return None

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        self.requests.append((handler.command, handler.path, handler.headers.get("Range")))
        self.authorizations.append(handler.headers.get("Authorization"))
        if found := re.match(r"^/api/(datasets|models)/([^/]+/[^/]+)/revision/([^/?]+)", handler.path):
            repo = self.repos.get((found[1][:-1], found[2]))
            if repo is None:
                return self._error(handler, 404, "RepoNotFound")
            payload = json.dumps(
                {"id": found[2], "sha": repo.commit, "siblings": [{"rfilename": f} for f in sorted(repo.files)]}
            ).encode()
            return self._send(handler, 200, payload, {"Content-Type": "application/json"}, body)
        if found := re.match(r"^/api/(datasets|models)/([^/]+/[^/]+)/tree/([^/?]+)/?([^?]*)(\?.*)?$", handler.path):
            repo = self.repos.get((found[1][:-1], found[2]))
            if repo is None or found[3] not in ("main", repo.commit):
                return self._error(handler, 404, "RepoNotFound" if repo is None else "RevisionNotFound")
            entries = self._tree(repo, found[4].strip("/"), "recursive=true" in (found[5] or "").lower())
            if entries is None:
                return self._error(handler, 404, "EntryNotFound", repo.commit)
            return self._send(handler, 200, json.dumps(entries).encode(), {"Content-Type": "application/json"}, body)
        route = self._route(handler.path)
        if route is None:
            return self._error(handler, 404, None)
        kind, repo_id, revision, path = route
        repo = self.repos.get((kind, repo_id))
        if repo is None:
            return self._error(handler, 404, "RepoNotFound")
        if revision not in ("main", repo.commit):
            return self._error(handler, 404, "RevisionNotFound", repo.commit)
        if path not in repo.files:
            return self._error(handler, 404, "EntryNotFound", repo.commit)
        data = repo.files[path]
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{repo.etag(path)}"', "Accept-Ranges": "bytes"}
        start = 0
        if (wanted := handler.headers.get("Range")) and (found := re.match(r"bytes=(\d+)-", wanted)):
            start = int(found[1])
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        status = 206 if start else 200
        if body and path in self.cut_after:
            cut = self.cut_after.pop(path)
            headers["Content-Length"] = str(len(data) - start)
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            for piece in range(start, start + cut, 1000):  # several packets, as a real transfer has
                handler.wfile.write(data[piece : min(piece + 1000, start + cut)])
                handler.wfile.flush()
            handler.close_connection = True
            return
        self._send(handler, status, data[start:], headers, body)

    def _tree(self, repo: Repo, folder: str, recursive: bool) -> list[dict] | None:
        """The tree API's rows below `folder`: every file (and folder) when recursive, else the direct children;
        None when nothing is there."""
        prefix = f"{folder}/" if folder else ""
        below = {path[len(prefix) :]: data for path, data in repo.files.items() if path.startswith(prefix)}
        if not below:
            return None
        folders = {
            prefix + "/".join(rest.split("/")[:depth]) for rest in below for depth in range(1, rest.count("/") + 1)
        }
        rows = [self._entry(prefix + rest, data) for rest, data in sorted(below.items())]
        rows += [
            {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}
            for path in sorted(folders)
        ]
        if not recursive:
            rows = [row for row in rows if "/" not in row["path"][len(prefix) :]]
        return rows

    @staticmethod
    def _entry(path: str, data: bytes) -> dict:
        """A tree API row: git blob sha1, and sha256 for an LFS file."""
        entry = {
            "type": "file",
            "path": path,
            "size": len(data),
            "oid": hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest(),
        }
        if len(data) >= LFS_MIN:
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
        return entry

    def _send(self, handler, status, data, headers, body) -> None:
        handler.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            handler.send_header(key, value)
        handler.end_headers()
        if body:
            handler.wfile.write(data)

    def _error(self, handler, status, code, commit=None) -> None:
        headers = {"X-Error-Code": code} if code else {}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(handler, status, b'{"error": "not found"}', headers, True)

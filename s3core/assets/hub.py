"""Remote files (Hugging Face hub repos, raw GitHub files) fetched at a pinned revision into a local folder.

A file goes to `<folder>/<repo>/<path>.part` first and is renamed once its size and checksum check out, so an
interrupted fetch resumes where it stopped (an HTTP Range request; huggingface_hub >= 1.18 would start the file
over). The checksum is the one the server names: the ETag of a hub file (sha256 for LFS files, the git blob sha1
otherwise) or a pinned git blob sha1. Every file is recorded with its resolved commit, size and sha256; a file
already in the folder is verified, not fetched again. `mirror` (a folder laid out as `<repo>/<path>`, e.g. a copy of an
earlier fetch) replaces the network. The hub token comes from the environment (`HF_TOKEN`) and is never logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s3core.errors import AssetError

log = logging.getLogger(__name__)

GITHUB_RAW = "https://raw.githubusercontent.com"
HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
BLOCK = 1 << 22


def is_hub_id(model: str) -> bool:
    """`org/name` that is not a folder here (local folders, `pkg:` paths and built models are not fetched)."""
    local = Path(model).exists() or model.startswith("results/")
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", model)) and not local


@dataclass(frozen=True)
class Remote:
    """One file to fetch: `kind` model, dataset (hub repos) or github (a raw file of a GitHub repo)."""

    repo: str
    path: str
    revision: str = "main"
    kind: str = "dataset"
    checksum: str | None = None  # a pinned sha256 or git blob sha1; else the server's ETag

    def __post_init__(self) -> None:
        """A repo or path that would lead out of the download folder is refused before anything is asked."""
        local = Path(self.repo) / self.path
        if local.is_absolute() or ".." in local.parts:
            raise AssetError(
                f"{self.kind} repo {self.repo!r}, file {self.path!r}: leads out of the download folder; "
                "a repo id is <owner>/<name> and a file path stays inside its repo"
            )

    @property
    def local(self) -> Path:
        """Where the file lands below the download folder (the layout a mirror has too)."""
        return Path(self.repo) / self.path


@dataclass(frozen=True)
class Fetched:
    """A manifest row: where a file came from and what it is."""

    repo: str
    kind: str
    revision: str
    commit: str
    path: str
    size: int
    sha256: str
    source: str


@dataclass(frozen=True)
class Resolved:
    """What the server says about a file before its bytes come: the download URL, commit, size and checksum."""

    url: str
    commit: str
    size: int
    checksum: str | None


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, read once."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            sha256.update(block)
            blob.update(block)
    return sha256.hexdigest(), blob.hexdigest()


def verify(path: Path, remote: Remote, expected: str | None) -> str:
    """The file's sha256; AssetError naming the file and both hashes when it is not the expected content."""
    sha256, blob = file_digests(path)
    if expected and expected not in (sha256, blob):
        kind = "sha256" if HEX64.match(expected) else "git blob sha1"
        actual = sha256 if kind == "sha256" else blob
        raise AssetError(
            f"{remote.repo}/{remote.path} (revision {remote.revision}): {kind} {actual} of {path} "
            f"differs from the expected {expected}; delete the file to fetch it again"
        )
    return sha256


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _token() -> str | bool:
    return os.environ.get("HF_TOKEN") or False


def resolve(remote: Remote) -> Resolved:
    """Ask the server for the file's commit, size and checksum (a HEAD request)."""
    if remote.kind == "github":
        return _resolve_github(remote)
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled

    endpoint = _hub_endpoint()
    url = hf_hub_url(remote.repo, remote.path, repo_type=remote.kind, revision=remote.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=_token(), endpoint=endpoint)
    except OfflineModeIsEnabled as exc:
        raise AssetError(
            f"HF_HUB_OFFLINE is set, but {remote.repo}/{remote.path} is not fetched yet: unset it for "
            "the download step, or stage the files and set assets.mirror"
        ) from exc
    except (EntryNotFoundError, HfHubHTTPError) as exc:
        raise AssetError(
            f"{remote.kind} repo {remote.repo}, revision {remote.revision}: cannot fetch "
            f"{remote.path} from {endpoint} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    if not meta.commit_hash or meta.size is None:
        raise AssetError(f"{url}: the server named no commit or size; is {endpoint} a Hugging Face hub?")
    etag = (meta.etag or "").strip('"').removeprefix("W/").strip('"')
    checksum = remote.checksum or (etag if HEX40.match(etag) or HEX64.match(etag) else None)
    at_commit = hf_hub_url(
        remote.repo, remote.path, repo_type=remote.kind, revision=meta.commit_hash, endpoint=endpoint
    )
    return Resolved(at_commit, meta.commit_hash, meta.size, checksum)


def list_folder(repo: str, folder: str, revision: str, mirror: Path | None = None) -> list[Remote]:
    """The files below `folder` of a hub dataset repo at `revision` (the hub's tree API; a mirror's listing of
    `<mirror>/<repo>/<folder>` when set), in path order."""
    if mirror is not None:
        root = mirror / repo
        paths = [p.relative_to(root).as_posix() for p in (root / folder).rglob("*") if p.is_file()]
        if not paths:
            raise AssetError(
                f"assets.mirror: no files in {root / folder} (dataset repo {repo}, folder {folder}); "
                "stage them there or drop assets.mirror"
            )
    else:
        paths = _hub_listing(repo, folder, revision)
    return [Remote(repo, path, revision) for path in sorted(paths)]


def _hub_listing(repo: str, folder: str, revision: str) -> list[str]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=_hub_endpoint(), token=_token())
    try:
        entries = api.list_repo_tree(repo, path_in_repo=folder, revision=revision, repo_type="dataset", recursive=True)
        paths = [entry.path for entry in entries if isinstance(entry, RepoFile)]
    except (HfHubHTTPError, OfflineModeIsEnabled) as exc:
        raise AssetError(
            f"dataset repo {repo}, revision {revision}: cannot list {folder}/ on {_hub_endpoint()} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    if not paths:
        raise AssetError(f"dataset repo {repo}, revision {revision}: no files in {folder}/ on {_hub_endpoint()}")
    return paths


def _resolve_github(remote: Remote) -> Resolved:
    import httpx

    base = os.environ.get("S3_GITHUB_RAW", GITHUB_RAW).rstrip("/")
    url = f"{base}/{remote.repo}/{remote.revision}/{remote.path}"
    try:
        response = httpx.head(url, follow_redirects=True, timeout=30)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise AssetError(
            f"GitHub repo {remote.repo}, revision {remote.revision}: cannot fetch {remote.path} from {url} ({exc})"
        ) from exc
    return Resolved(url, remote.revision, int(response.headers["Content-Length"]), remote.checksum)


def _resolve_mirror(remote: Remote, mirror: Path) -> Resolved:
    source = mirror / remote.local
    if not source.is_file():
        raise AssetError(
            f"assets.mirror: {source} is missing ({remote.kind} repo {remote.repo}, revision "
            f"{remote.revision}, file {remote.path}); stage it there or drop assets.mirror"
        )
    return Resolved(str(source), "mirror", source.stat().st_size, remote.checksum)


def _download(remote: Remote, resolved: Resolved, part: Path) -> None:
    """Append the missing bytes of the file to `part` (an HTTP Range from its current size; a copy from a mirror)."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    part.parent.mkdir(parents=True, exist_ok=True)
    if resolved.commit == "mirror":
        shutil.copyfile(resolved.url, part)
        return
    headers = {} if remote.kind == "github" else build_hf_headers(token=_token())  # the hub token goes to the hub only
    with part.open("ab") as handle:
        http_get(
            resolved.url,
            handle,
            resume_size=handle.tell(),
            headers=headers,
            expected_size=resolved.size,
            displayed_filename=part.name.removesuffix(".part"),
        )


def fetch(remote: Remote, resolved: Resolved, folder: Path) -> Fetched:
    """Fetch one resolved file into `folder` (or verify it when it is there) and return its manifest row."""
    dest = folder / remote.local
    if not dest.exists():
        part = dest.with_name(dest.name + ".part")
        _download(remote, resolved, part)
        sha256 = verify(part, remote, resolved.checksum)
        part.rename(dest)
    else:
        sha256 = verify(dest, remote, resolved.checksum)
    if dest.stat().st_size != resolved.size:
        raise AssetError(
            f"{dest}: {dest.stat().st_size:,} bytes where {resolved.url} has {resolved.size:,}; "
            "delete it to fetch it again"
        )
    return Fetched(
        remote.repo, remote.kind, remote.revision, resolved.commit, remote.path, resolved.size, sha256, resolved.url
    )


def missing_bytes(planned: list[tuple[Remote, Resolved]], folder: Path) -> int:
    """Bytes still to fetch into `folder` (finished files and the parts already there excluded)."""
    needed = 0
    for remote, resolved in planned:
        dest = folder / remote.local
        part = dest.with_name(dest.name + ".part")
        if not dest.exists():
            needed += resolved.size - (part.stat().st_size if part.exists() else 0)
    return needed


def check_free_space(folder: Path, needed: int) -> None:
    """Refuse to start when `folder` has less room than the bytes still to fetch."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise AssetError(
            f"{folder}: {needed:,} bytes still to fetch but only {free:,} free; free space there or "
            "set another download folder"
        )


def fetch_all(remotes: list[Remote], folder: Path, mirror: Path | None = None) -> list[dict[str, Any]]:
    """Resolve every file, check the disk, then fetch; the manifest rows, in order."""
    planned = [(r, _resolve_mirror(r, mirror) if mirror is not None else resolve(r)) for r in remotes]
    check_free_space(folder, missing_bytes(planned, folder))
    rows = []
    for remote, resolved in planned:
        fetched = fetch(remote, resolved, folder)
        log.info("%s/%s: %d bytes, commit %s", remote.repo, remote.path, fetched.size, fetched.commit)
        rows.append(asdict(fetched))
    return rows


def fetch_models(models: list[str], revisions: dict[str, str]) -> list[dict[str, Any]]:
    """Every file of each hub model repo into the Hugging Face cache (HF_HUB_CACHE, where transformers, vLLM and the
    jobs look), at its revision; the manifest rows (repo, revision, resolved commit, folder). huggingface_hub resumes
    within the process and skips files already cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    rows = []
    for repo in models:
        revision = revisions.get(repo, "main")
        try:
            folder = Path(snapshot_download(repo, revision=revision, endpoint=_hub_endpoint(), token=_token()))
        except (HfHubHTTPError, OfflineModeIsEnabled, OSError) as exc:
            raise AssetError(
                f"model repo {repo}, revision {revision}: cannot fetch it from {_hub_endpoint()} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]}); set HF_TOKEN for a gated model, "
                "unset HF_HUB_OFFLINE for this step"
            ) from exc
        log.info("model %s at %s: %s", repo, folder.name, folder)
        rows.append({"repo": repo, "revision": revision, "commit": folder.name, "folder": str(folder)})
    return rows

"""Fetching remote files against a stand-in hub: resume, checksums, missing files, disk space, mirror, manifest."""

import hashlib
import json
from pathlib import Path

import pytest
from fake_hub import FakeHub, Repo

from s3core.assets.hub import Remote, check_free_space, fetch_all, fetch_models
from s3core.errors import AssetError

BIG = bytes(range(256)) * 64  # 16 KiB: served as an LFS file (sha256 ETag)
SMALL = b'{"id": "0"}\n'  # served as a regular file (git blob sha1 ETag)


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub(
        {
            ("dataset", "org/data"): Repo({"big.bin": BIG, "dir/small.jsonl": SMALL}),
            ("model", "org/model"): Repo({"config.json": b"{}"}),
            ("github", "org/bench"): Repo({"benchmark.json": b'{"medqa": {}}'}, commit="abc123"),
        }
    )
    url = fake.start()
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)  # the tests run offline otherwise
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("S3_GITHUB_RAW", f"{url}/github")
    yield fake
    fake.stop()


def _remotes():
    return [
        Remote("org/data", "big.bin"),
        Remote("org/data", "dir/small.jsonl"),
        Remote("org/model", "config.json", kind="model"),
        Remote(
            "org/bench",
            "benchmark.json",
            revision="abc123",
            kind="github",
            checksum=hashlib.sha1(b"blob 13\0" + b'{"medqa": {}}').hexdigest(),
        ),
    ]


def test_fetch_all_records_commit_size_and_sha256_then_skips(hub, tmp_path):
    rows = fetch_all(_remotes(), tmp_path)
    assert (tmp_path / "org/data/big.bin").read_bytes() == BIG
    assert (tmp_path / "org/bench/benchmark.json").read_bytes() == b'{"medqa": {}}'
    big = rows[0]
    assert big["commit"] == hub.repos[("dataset", "org/data")].commit and big["size"] == len(BIG)
    assert big["sha256"] == hashlib.sha256(BIG).hexdigest() and big["source"].endswith(
        f"/resolve/{big['commit']}/big.bin"
    )
    assert rows[3]["commit"] == "abc123"
    gets = [r for r in hub.requests if r[0] == "GET"]
    assert fetch_all(_remotes(), tmp_path) == rows  # verified, not fetched again
    assert [r for r in hub.requests if r[0] == "GET"] == gets


def test_a_killed_fetch_resumes_from_its_part_file(hub, tmp_path):
    part = tmp_path / "org/data/big.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BIG[:5000])  # what a killed run left behind
    fetch_all([Remote("org/data", "big.bin")], tmp_path)
    assert (tmp_path / "org/data/big.bin").read_bytes() == BIG and not part.exists()
    assert (
        "GET",
        f"/datasets/org/data/resolve/{hub.repos[('dataset', 'org/data')].commit}/big.bin",
        "bytes=5000-",
    ) in hub.requests


def test_a_connection_cut_mid_file_resumes_with_a_range_request(hub, tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 1000)  # written to disk per 1,000 bytes
    hub.cut_after["big.bin"] = 7000
    fetch_all([Remote("org/data", "big.bin")], tmp_path)
    assert (tmp_path / "org/data/big.bin").read_bytes() == BIG
    assert [r[2] for r in hub.requests if r[0] == "GET"] == [None, "bytes=7000-"]


def test_a_checksum_mismatch_names_the_file_and_both_hashes(hub, tmp_path):
    wrong = "f" * 64
    with pytest.raises(AssetError) as err:
        fetch_all([Remote("org/data", "big.bin", checksum=wrong)], tmp_path)
    message = str(err.value)
    assert "org/data/big.bin" in message and wrong in message and hashlib.sha256(BIG).hexdigest() in message
    assert not (tmp_path / "org/data/big.bin").exists()  # a bad file never takes the final name


def test_a_missing_file_names_repo_revision_and_path(hub, tmp_path):
    with pytest.raises(AssetError, match=r"dataset repo org/data, revision main: cannot fetch nope/x.jsonl"):
        fetch_all([Remote("org/data", "nope/x.jsonl")], tmp_path)
    with pytest.raises(AssetError, match=r"revision v9: cannot fetch big.bin"):
        fetch_all([Remote("org/data", "big.bin", revision="v9")], tmp_path)


def test_too_little_disk_is_refused_before_any_byte(hub, tmp_path):
    with pytest.raises(AssetError, match=rf"{tmp_path}: 999,999,999,999,999 bytes still to fetch"):
        check_free_space(tmp_path, 999_999_999_999_999)


def test_a_mirror_replaces_the_network(hub, tmp_path):
    fetch_all(_remotes(), tmp_path / "first")
    hub.requests.clear()
    rows = fetch_all(_remotes(), tmp_path / "second", mirror=tmp_path / "first")
    assert not hub.requests and (tmp_path / "second/org/data/big.bin").read_bytes() == BIG
    assert rows[0]["commit"] == "mirror" and rows[0]["sha256"] == hashlib.sha256(BIG).hexdigest()
    with pytest.raises(AssetError, match="assets.mirror: .*org/data/other.bin is missing"):
        fetch_all([Remote("org/data", "other.bin")], tmp_path / "third", mirror=tmp_path / "first")


def test_models_land_in_the_hugging_face_cache(hub, tmp_path, monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    hub.repos[("model", "org/model")].files["model.safetensors"] = BIG
    [row] = fetch_models(["org/model"], {})
    commit = hub.repos[("model", "org/model")].commit
    assert (row["repo"], row["revision"], row["commit"]) == ("org/model", "main", commit)
    assert (Path(row["folder"]) / "model.safetensors").read_bytes() == BIG
    cached = try_to_load_from_cache("org/model", "config.json", cache_dir=str(tmp_path / "hub"))
    assert cached and Path(cached).read_bytes() == b"{}"  # where transformers looks when offline
    with pytest.raises(AssetError, match="model repo org/none, revision main: cannot fetch it"):
        fetch_models(["org/none"], {})


def test_the_hub_token_comes_from_the_environment_and_is_never_logged(hub, tmp_path, monkeypatch, caplog):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_123")
    rows = fetch_all(_remotes(), tmp_path)
    sent = [a for (method, path, _), a in zip(hub.requests, hub.authorizations) if not path.startswith("/github/")]
    assert sent and all(a == "Bearer hf_secret_token_123" for a in sent)  # to the hub only
    github = [a for (method, path, _), a in zip(hub.requests, hub.authorizations) if path.startswith("/github/")]
    assert github and not any(github)
    assert "hf_secret_token_123" not in caplog.text + json.dumps(rows)


@pytest.mark.parametrize(
    ("repo", "path"), [("owner/name", "../../outside.txt"), ("../..", "x.txt"), ("owner/name", "/etc/passwd")]
)
def test_a_file_that_would_land_outside_the_download_folder_is_refused(tmp_path, repo, path):
    with pytest.raises(AssetError, match="leads out of the download folder"):
        fetch_all([Remote(repo, path)], tmp_path / "downloads")
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["downloads"])

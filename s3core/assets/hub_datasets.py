"""A hub dataset's files of one split, for `assets.kind: custom` (`dataset:` instead of `path:`): the files the
hub's own layout gives that split (names that start with `<split>-` or `<split>.`, or files in a folder named
`<split>`), fetched at a revision with their commit and sha256 for the data manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3core.assets.hub import fetch_all, list_folder
from s3core.data.table_files import SUFFIXES
from s3core.errors import AssetError


def is_split_file(path: str, split: str) -> bool:
    """Whether a repo file holds rows of `split` in a format this project reads."""
    *folders, name = path.split("/")
    readable = name.endswith(tuple(SUFFIXES))
    return readable and (split in folders or name.startswith((f"{split}-", f"{split}.")))


def fetch_split(repo: str, split: str, revision: str, folder: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """The local copies (under `folder`, in path order) of dataset `repo`'s files of `split`, and their manifest
    rows."""
    remotes = [remote for remote in list_folder(repo, "", revision) if is_split_file(remote.path, split)]
    if not remotes:
        endings = ", ".join(SUFFIXES)
        raise AssetError(
            f"dataset repo {repo}, revision {revision}: no file of split {split!r} (a name starting with {split}- or "
            f"{split}., or in a folder {split}/, ending in {endings}); name the split the repo has in 'split'"
        )
    return [folder / remote.local for remote in remotes], fetch_all(remotes, folder)

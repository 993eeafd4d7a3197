"""`s3core profile install`: make `snakemake --profile slurm` find this repository's SLURM profile by linking
it into the user's Snakemake config folder ($XDG_CONFIG_HOME/snakemake, else ~/.config/snakemake)."""

from __future__ import annotations

import os
from pathlib import Path

from s3core.errors import S3Error


def snakemake_config_home() -> Path:
    """The folder Snakemake searches for named profiles."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "snakemake"


def profile_folder(profile: Path) -> Path:
    """The folder of `--profile` as Snakemake resolves it: a folder with a config.yaml, else a profile of that name
    in the user's Snakemake config folder (`s3core profile install` puts `slurm` there)."""
    for folder in (profile, snakemake_config_home() / profile):
        if (folder / "config.yaml").is_file():
            return folder
    raise S3Error(
        f"--profile {profile}: no config.yaml in {profile} nor in {snakemake_config_home() / profile}; pass a profile "
        "folder (workflow/profiles/slurm) or install one by name (s3core profile install)"
    )


def install_profile(source: Path, name: str, config_home: Path | None = None, force: bool = False) -> Path:
    """Link `source` (a profile folder) as `<config home>/<name>`; returns the link. An existing link to the
    same folder is kept; anything else there is replaced only with `force`."""
    source = source.resolve()
    if not (source / "config.yaml").is_file():
        raise S3Error(
            f"{source} is not a Snakemake profile (no config.yaml); run from the repository root "
            "or pass --source workflow/profiles/slurm"
        )
    link = (config_home or snakemake_config_home()) / name
    if link.is_symlink() and link.resolve() == source:
        return link
    if link.exists() or link.is_symlink():
        if not force:
            raise S3Error(f"{link} already exists and is not a link to {source}; pass --force to replace it")
        if link.is_symlink() or link.is_file():
            link.unlink()
        else:
            raise S3Error(f"{link} is a folder; move it away first (it may hold your own profile)")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(source, target_is_directory=True)
    return link

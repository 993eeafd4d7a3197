"""Per-rule software, checked statically (conda and Apptainer cannot run here): every rule names a conda env,
every env file parses and pins every package, the s3core env agrees with requirements.lock, and every
Apptainer definition is well formed and installs pinned packages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from workflow_run import ROOT, snakemake

ENVS = sorted((ROOT / "envs").glob("*.yaml"))
DEFS = sorted((ROOT / "containers").glob("*.def"))
CONDA_PIN = re.compile(r"^[A-Za-z0-9_.\-]+=[0-9][^=<>*]*$")      # conda: name=version
PIP_PIN = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][^=<>*,;]*$")  # pip: name==version
SECTIONS = {"%labels", "%help", "%files", "%post", "%environment", "%runscript", "%test"}


def lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return dict(line.lower().split("==") for line in lines if "==" in line and not line.startswith("#"))


def env_packages(path: Path) -> tuple[list[str], list[str]]:
    """(conda specs, pip specs) of an env file."""
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [spec for d in deps if isinstance(d, dict) for spec in d.get("pip", [])]
    return conda, pip


def test_every_rule_names_a_conda_env_that_exists():
    rules = [p for p in (ROOT / "workflow" / "rules").glob("*.smk") if p.name != "common.smk"]
    for path in rules:
        text = path.read_text()
        blocks = re.split(r"^\s*rule\b", text, flags=re.M)[1:]
        assert blocks, f"{path.name} defines no rule"
        for block in blocks:
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            assert env, f"a rule in {path.name} has no conda: directive"
            assert (path.parent / env.group(1)).resolve().is_file(), env.group(1)


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_file_parses_and_pins_every_package(path):
    spec = yaml.safe_load(path.read_text())
    assert spec["channels"] and "defaults" not in spec["channels"]
    conda, pip = env_packages(path)
    assert pip, f"{path.name} installs nothing with pip"
    for entry in conda:
        assert CONDA_PIN.match(entry), f"{path.name}: conda package {entry!r} is not pinned (name=version)"
    for entry in pip:
        assert PIP_PIN.match(entry), f"{path.name}: pip package {entry!r} is not pinned (name==version)"


def test_s3core_env_matches_the_lock_and_installs_the_project():
    locked = lock_pins()
    _, pip = env_packages(ROOT / "envs" / "s3core.yaml")
    for entry in pip:
        name, version = entry.lower().split("==")
        assert locked.get(name) == version, f"envs/s3core.yaml pins {entry}, requirements.lock {locked.get(name)}"
    post_deploy = (ROOT / "envs" / "s3core.post-deploy.sh").read_text()
    assert "pip install --no-deps" in post_deploy and "-e ." in post_deploy


@pytest.mark.parametrize("path", DEFS, ids=lambda p: p.name)
def test_apptainer_definition_is_well_formed(path):
    lines = path.read_text().splitlines()
    header = dict(line.split(":", 1) for line in lines[:2])
    assert header["Bootstrap"].strip() == "docker" and "nvidia/cuda:" in header["From"]
    sections = [line.split()[0] for line in lines if line.startswith("%")]
    assert set(sections) <= SECTIONS and len(sections) == len(set(sections)) and "%post" in sections
    for source, _target in (line.split() for line in _section(lines, "%files")):
        assert (ROOT / source).exists(), f"{path.name} copies {source}, which is not in the repository"
    for install in (line for line in _section(lines, "%post") if "pip install" in line):
        packages = [w for w in install.split()[3:] if not w.startswith("-") and not w.startswith("/")]
        assert all(PIP_PIN.match(p) for p in packages), f"{path.name}: unpinned package in {install!r}"


def _section(lines: list[str], name: str) -> list[str]:
    """The non-empty lines of one `%section` of a definition file."""
    if name not in lines:
        return []
    start = lines.index(name) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("%")), len(lines))
    return [line.strip() for line in lines[start:end] if line.strip()]


def test_vllm_env_and_image_share_their_pins():
    _, pip = env_packages(ROOT / "envs" / "vllm.yaml")
    image = (ROOT / "containers" / "vllm.def").read_text()
    assert all(entry in image for entry in pip), "containers/vllm.def must install envs/vllm.yaml's pins"


def test_workflow_names_the_image_for_apptainer_runs():
    run = snakemake("--dry-run", "--forceall", "--cores", "1", "--print-compilation")
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'containers/s3core.sif' in run.stdout


@pytest.mark.skipif(not (shutil.which("conda") and shutil.which("apptainer")),
                    reason="needs conda and apptainer on PATH (neither installs from PyPI; see README, "
                           "'Software on the nodes')")
def test_dry_run_with_conda_in_apptainer_builds_the_dag():
    run = snakemake("--sdm", "conda", "apptainer", "--dry-run", "--forceall", "--cores", "1")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "train_s3" in run.stdout

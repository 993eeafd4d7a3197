"""Per-rule software, checked statically (conda and Apptainer cannot run here): every rule names its stage's
conda env, every env file parses and pins every package, the envs agree with the locks the tests run in, every
package a rule's verb imports is pinned in that rule's env, and every Apptainer definition is well formed and
installs the pins of its env."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from verb_imports import distributions, verb_modules
from workflow_run import ROOT, snakemake

ENVS = sorted((ROOT / "envs").glob("*.yaml"))
DEFS = sorted((ROOT / "containers").glob("*.def"))
CONDA_PIN = re.compile(r"^[A-Za-z0-9_.\-]+=[0-9][^=<>*]*$")  # conda: name=version
PIP_PIN = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][^=<>*,;]*$")  # pip: name==version
SECTIONS = {"%labels", "%help", "%files", "%post", "%environment", "%runscript", "%test"}
S3CORE_ENVS = {
    "retrieval": "requirements.lock",
    "evaluation": "requirements.lock",
    "training": "requirements-training.lock",
}
# The training env's pins its CPU test twin lacks: GPU builds (torch, vLLM, cupy, kernels) and the packages of verl
# 0.9.1's `vllm` and `fsdp` extras the tests never import (tests/verl_engine checks them against verl's metadata).
GPU_ONLY = {
    "torch": "2.11.0",
    "torchvision": "0.26.0",
    "torchaudio": "2.11.0",
    "vllm": "0.24.0",
    "cupy-cuda13x": "14.0.1",
    "liger-kernel": "0.8.5",
    "trl": "0.27.0",
    "flash-linear-attention": "0.5.2",
    "einops": "0.8.2",
    "torchcodec": "0.11.0",
    "mbridge": "0.15.1",
    "mathruler": "0.1.0",
    "qwen-vl-utils": "0.0.14",
    "nvtx": "0.2.16",
    "pytest-asyncio": "1.5.0",
    "pytest-rerunfailures": "16.7",
}
# What a verb needs beyond its static imports: transformers loads GGUF files through gguf; the trainer logs
# through torch.utils.tensorboard; train_s3 may run under `s3core ray-run` (the ray CLI) and `python -m verl...`.
RUNTIME_NEEDS = {"convert-llm": {"gguf"}, "train": {"tensorboard", "ray", "verl"}}


def _name(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package.lower())


def lock_pins(lock: str = "requirements.lock") -> dict[str, str]:
    lines = (ROOT / lock).read_text().splitlines()
    pairs = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {_name(name): version for name, version in pairs}


def pip_pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in (e.split("==") for e in env_packages(path)[1])}


def rule_blocks() -> list[tuple[str, str]]:
    """(file name, text) of every rule in workflow/rules."""
    rules = [p for p in (ROOT / "workflow" / "rules").glob("*.smk") if p.name != "common.smk"]
    return [(path.name, block) for path in rules for block in re.split(r"^\s*rule\b", path.read_text(), flags=re.M)[1:]]


def env_packages(path: Path) -> tuple[list[str], list[str]]:
    """(conda specs, pip specs) of an env file."""
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [spec for d in deps if isinstance(d, dict) for spec in d.get("pip", [])]
    return conda, pip


def test_every_rule_names_a_conda_env_that_exists():
    blocks = rule_blocks()
    assert len(blocks) >= 9
    for name, block in blocks:
        env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
        assert env, f"a rule in {name} has no conda: directive"
        assert (ROOT / "workflow" / "rules" / env.group(1)).resolve().is_file(), env.group(1)


def test_every_package_a_rules_verb_imports_is_pinned_in_the_rules_env():
    for name, block in rule_blocks():
        env = Path(re.search(r'conda:\s*\n\s*"([^"]+)"', block).group(1)).stem
        verb = re.search(r"s3core(?: --[\w-]+ \S+)* ([a-z][\w-]*)", block).group(1)
        needed = distributions(verb_modules(f"cmd_{verb.replace('-', '_')}")) | RUNTIME_NEEDS.get(verb, set())
        if "--server-log" in block:  # the job starts a retriever sidecar: `s3core serve` in the same env
            needed |= distributions(verb_modules("cmd_serve"))
        missing = {_name(d) for d in needed} - set(pip_pins(ROOT / "envs" / f"{env}.yaml"))
        assert not missing, f"{name}: verb {verb!r} imports {sorted(missing)}, not pinned in envs/{env}.yaml"


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


@pytest.mark.parametrize("env", sorted(S3CORE_ENVS))
def test_stage_env_matches_the_lock_the_tests_run_in_and_installs_the_project(env):
    locked = lock_pins(S3CORE_ENVS[env])
    for name, version in pip_pins(ROOT / "envs" / f"{env}.yaml").items():
        expected = GPU_ONLY.get(name) if env == "training" and name in GPU_ONLY else locked.get(name)
        assert version == expected, f"envs/{env}.yaml pins {name}=={version}, {S3CORE_ENVS[env]} {expected}"
    post_deploy = ROOT / "envs" / f"{env}.post-deploy.sh"
    installer = ROOT / "envs" / "install-s3core.sh"
    assert post_deploy.resolve() == installer or 'bash "$(dirname "$0")/install-s3core.sh"' in post_deploy.read_text()
    assert "pip install --no-deps" in installer.read_text() and "-e ." in installer.read_text()


def test_the_training_env_holds_verl_and_its_rollout_engine():
    pins = pip_pins(ROOT / "envs" / "training.yaml")
    assert pins["verl"] == lock_pins("requirements-training.lock")["verl"]
    assert {name: pins[name] for name in GPU_ONLY} == GPU_ONLY


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


@pytest.mark.parametrize("env", ["llm-serving", "training"])
def test_env_and_image_share_their_pins(env):
    image = (ROOT / "containers" / f"{env}.def").read_text()
    _, pip = env_packages(ROOT / "envs" / f"{env}.yaml")
    assert all(entry in image.split() for entry in pip), f"containers/{env}.def must install envs/{env}.yaml's pins"


def test_workflow_names_the_image_for_apptainer_runs():
    run = snakemake("--dry-run", "--forceall", "--cores", "1", "--print-compilation")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "containers/s3core.sif" in run.stdout and "containers/training.sif" in run.stdout


@pytest.mark.skipif(
    not (shutil.which("conda") and shutil.which("apptainer")),
    reason="needs conda and apptainer on PATH (neither installs from PyPI; docs/cluster.md, 'Software on the nodes')",
)
def test_dry_run_with_conda_in_apptainer_builds_the_dag():
    run = snakemake("--sdm", "conda", "apptainer", "--dry-run", "--forceall", "--cores", "1")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "train_s3" in run.stdout

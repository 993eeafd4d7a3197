"""Every `snakemake` command the docs show runs as shown: each one (fenced code blocks and inline code spans of
README.md, docs/*.md and config/README.md) is run in the repository root as a dry run, the profile `slurm`
installed the way `s3core profile install` does it (into a temporary config folder)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from workflow_run import ROOT, BackgroundRun

from s3core.cluster.snakemake_profile import install_profile

pytestmark = pytest.mark.slow  # every case starts snakemake; the paper's DAG (4,122 jobs) takes ~13 s a dry run

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "config" / "README.md"]
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)  # list items indent theirs
SPAN = re.compile(r"`([^`]+)`")
PROGRAM = re.compile(r"^\s*(?:\.venv/bin/)?snakemake(?:\s|$)")
#: The error each software-deployment method gives where its tool is not on PATH: past the arguments, the workflow read
MISSING_TOOL = {
    "conda": "Error running conda info",
    "apptainer": "The apptainer or singularity command has to be available",
}


def commands(text: str) -> list[str]:
    """The `snakemake` commands of a Markdown text: lines of its fenced blocks (continuations joined, comments
    dropped) and inline code spans that start with `snakemake` or `.venv/bin/snakemake`."""
    blocks = [line for block in FENCE.findall(text) for line in block.replace("\\\n", " ").splitlines()]
    spans = [" ".join(span.split()) for span in SPAN.findall(FENCE.sub("", text))]
    return [shlex.join(shlex.split(line, comments=True)) for line in blocks + spans if PROGRAM.match(line)]


def documented() -> dict[str, str]:
    """Each command the docs show, once, with where it is first shown."""
    shown: dict[str, str] = {}
    for doc in DOCS:
        for command in commands(doc.read_text()):
            shown.setdefault(command, doc.relative_to(ROOT).as_posix())
    return shown


def test_the_docs_show_the_commands_this_test_runs():
    shown = documented()
    assert ".venv/bin/snakemake all --profile slurm --configfile config/paper.yaml" in shown
    assert {"README.md", "docs/cluster.md", "docs/verl.md"} <= set(shown.values())
    block = "   ```bash\n   x \\\n     y\n   .venv/bin/snakemake b \\\n     --config k=v  # c\n   ```\n"
    text = f"1. `snakemake a`\n{block}`snakemake c`"
    assert commands(text) == [".venv/bin/snakemake b --config k=v", "snakemake a", "snakemake c"]


def without_deployment(args: list[str]) -> list[str]:
    """`args` without `--sdm` and its values and without the conda/Apptainer flags (`--apptainer-args=...`)."""
    kept, in_sdm = [], False
    for arg in args:
        in_sdm = arg == "--sdm" or (in_sdm and not arg.startswith("-"))
        if not in_sdm and not arg.startswith(("--conda-", "--apptainer-")):
            kept.append(arg)
    return kept


def missing_tools(args: list[str]) -> list[str]:
    """The software-deployment tools `args` ask for (`--sdm conda apptainer`) that are not on PATH."""
    if "--sdm" not in args:
        return []
    methods = args[args.index("--sdm") + 1 :]
    methods = methods[: next((i for i, arg in enumerate(methods) if arg.startswith("-")), len(methods))]
    return [tool for tool in MISSING_TOOL if tool in methods and not shutil.which(tool)]


def dry_run(args: list[str], log: Path, env: dict[str, str]) -> tuple[int, str]:
    """Snakemake with `args` as a dry run (output, ~18 MB for the paper's DAG, to `log`); Snakemake's own report
    needs a finished run, so `--report FILE` is dry-run as the DAG it reports on (tests/test_dag_runs.py builds one)."""
    if "--report" in args:
        at = args.index("--report")
        args = args[:at] + args[at + 2 :]
    mode = [] if "--lint" in args else ["--dry-run"]
    return BackgroundRun(log, *args, *mode, env=env).finish(timeout=600)


def untracked_files() -> set[str]:
    """Files git does not track in the tree (ignored ones too), Snakemake's own metadata folder and the plan's job
    files (each job's config sections, written when the DAG is built) left out."""
    listing = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
            "--",
            ".",
            ":!.snakemake",
            ":(exclude,glob)results/*/plan/**",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listing.stdout.splitlines())


@pytest.fixture(scope="module")
def profile_home(tmp_path_factory) -> dict[str, str]:
    """An environment whose Snakemake config folder has the profile `slurm`, linked as `s3core profile install`
    links it."""
    home = tmp_path_factory.mktemp("xdg")
    install_profile(ROOT / "workflow" / "profiles" / "slurm", "slurm", config_home=home / "snakemake")
    return {"XDG_CONFIG_HOME": str(home)}


@pytest.mark.parametrize(("command", "doc"), documented().items(), ids=lambda value: value)
def test_a_documented_command_runs_as_shown(command, doc, profile_home, tmp_path):
    args = shlex.split(command)[1:]
    before = untracked_files()
    status, output = dry_run(args, tmp_path / "run.log", profile_home)
    if status and (missing := missing_tools(args)):
        # The arguments parsed and the workflow was read up to the tool; the rest of the command must dry-run
        assert any(MISSING_TOOL[tool] in output for tool in missing), f"{doc}: `{command}` failed:\n{output[-3000:]}"
        status, output = dry_run(without_deployment(args), tmp_path / "run.log", profile_home)
    assert status == 0, f"{doc}: `{command}` does not dry-run:\n{output[-3000:]}"
    assert untracked_files() == before, f"{doc}: the dry run of `{command}` wrote files"

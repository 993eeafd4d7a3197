"""The config sections each `s3core` verb reads: the one table the rules pass sections from and the CLI checks a
job's `--config` against (a verb given a config without a section it reads stops, instead of silently running on
the schema's defaults). A job's sections are written once per run to a file named by its content, so a command
line stays readable and a changed section still changes the job's parameters (Snakemake reruns it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from s3core.data.atomic import atomic_open
from s3core.errors import ConfigError

#: verb -> the config sections it reads
VERB_SECTIONS: dict[str, tuple[str, ...]] = {
    "download": ("retriever",),
    "index": ("retriever",),
    "encode-shard": ("retriever",),
    "serve": ("retriever", "search", "searcher", "searcher_server", "generators", "judge"),  # --kind searcher: all
    "precompute": ("retriever", "search", "generators", "judge", "reward"),
    "train": ("retriever", "search", "searcher", "train", "reward", "generators", "judge"),
    "infer": ("retriever", "search", "searcher", "baselines", "generators"),
    "evaluate": ("generators", "judge", "baselines"),
    "table": ("retriever", "searcher", "generators", "judge", "baselines", "report"),
}


#: Verbs a person starts by hand as often as a rule does: what their --config leaves out takes the defaults
STARTED_BY_HAND = frozenset({"serve"})


def check_given(verb: str, given: dict[str, Any]) -> None:
    """Every section `verb` reads is in `given` (a job's --config), else a ConfigError naming the missing ones."""
    if verb in STARTED_BY_HAND:
        return
    if missing := [name for name in VERB_SECTIONS.get(verb, ()) if name not in given]:
        raise ConfigError(
            f"s3core {verb} reads config sections {', '.join(VERB_SECTIONS[verb])}; --config lacks "
            f"{', '.join(missing)} (a rule passes what s3core.plan.job_sections.VERB_SECTIONS names; "
            "give {} for a section's defaults, or leave --config out for all of them)"
        )


def content_file(folder: str | Path, data: Any) -> str:
    """The file under `folder` that holds `data` as JSON (sorted keys, one line), named by its content
    (`<sha256[:16]>.json`) and written atomically when absent; its path."""
    text = json.dumps(data, sort_keys=True)
    path = Path(folder) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        with atomic_open(path) as handle:
            handle.write(text + "\n")
    return path.as_posix()

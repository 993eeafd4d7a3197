"""A verb's `--config` as a test writes it: the sections given, every other section the verb reads at its defaults."""

from __future__ import annotations

import json
from typing import Any

from s3core.plan.job_sections import VERB_SECTIONS

#: A generator for jobs that load none (the schema wants at least one)
UNUSED_GENERATORS = {"g": {"backend": "hf", "model": "unused"}}


def job_json(verb: str, **sections: Any) -> str:
    """JSON of `sections` over `{}` (the schema's defaults) for each section `verb` reads; generators default to
    one that is never loaded."""
    defaults = {name: UNUSED_GENERATORS if name == "generators" else {} for name in VERB_SECTIONS[verb]}
    return json.dumps({**defaults, **sections})

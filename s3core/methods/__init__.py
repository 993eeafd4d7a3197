"""Methods that turn questions into context files (one module each); selected by name in config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s3core.config.sections import BaselinesConfig, GeneratorConfig, JobConfig
from s3core.data.rows import ContextRow, Question
from s3core.errors import ConfigError


@dataclass(frozen=True)
class Method:
    """A named way to build contexts, `label` its table row. `run` gets the questions, a retriever client (None
    when the method does not retrieve) and the job's config sections (`searcher.model` is the searcher this job
    runs).
    `section_key` names its own config section (`search` for s3, `baselines.ircot`, ...); the index it queries is
    `retriever`, else that section's `retriever` key. `answer_style` is how the shared evaluator asks the generator:
    `direct` (the paper's prompt) or `cot` (reason, then `<answer>`); `context_format` how it renders the
    documents: `rag` (upstream's retrieval dump) or `selected` (the s3 searcher's)."""

    name: str
    label: str
    run: Callable[[list[Question], Any, JobConfig], list[ContextRow]]  # Any: a RetrieverClient, or None
    retriever: str | None = None
    section_key: str | None = None
    uses_searcher: bool = False
    uses_reasoner: bool = False
    answer_style: str = "direct"
    context_format: str = "rag"

    def own_section(self, config: JobConfig) -> Any:
        """This method's own config section (None when it has none)."""
        if not self.section_key:
            return None
        section: Any = config
        for key in self.section_key.split("."):
            section = getattr(section, key)
        return section

    def index_kind(self, config: JobConfig) -> str | None:
        """The index this method queries under `config`."""
        return self.retriever or getattr(self.own_section(config), "retriever", None)

    def own_model(self, config: JobConfig) -> str | None:
        """The model of this method's own section (Search-R1's policy, DeepRetrieval's rewriter), if any."""
        return getattr(self.own_section(config), "model", None)

    def model_paths(self, config: JobConfig) -> list[str]:
        """Models this method loads besides the s3 searcher: the reasoner's (a generator), its own policy."""
        paths = []
        if self.uses_reasoner:
            paths.append(config.generators[reasoner_name(config.baselines, config.generators)].model)
        own_model = self.own_model(config)
        return paths + [own_model] if own_model else paths


def reasoner_name(baselines: BaselinesConfig, generators: dict[str, GeneratorConfig]) -> str:
    """The generator that reasons for IRCoT and Search-o1: `baselines.reasoner`, else the first generator."""
    return baselines.reasoner or next(iter(generators))


def method_name(label: str) -> str:
    """The registered method a label runs: `s3` of every s3 run label (`s3.<...>`), else the label itself."""
    return "s3" if label.startswith("s3.") else label


def get_method(name: str) -> Method:
    """The method registered under `name` (s3core.methods.registry), or the one a run label (`s3.<ablation>`,
    `s3.seed<N>`) runs."""
    from s3core.methods.registry import registry

    methods = registry()
    if method_name(name) not in methods:
        raise ConfigError(f"unknown method {name!r} (eval.methods, --method); known: {', '.join(methods)}")
    return methods[method_name(name)]

"""Every method by name, in the paper's row order: this project's own, then those other installed packages
register under the entry-point group `s3core.methods` (each entry point an `s3core.methods.Method`). The one list
that `eval.methods`, `--method`, the table's rows and their labels come from."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from s3core.errors import ConfigError
from s3core.methods import Method

#: The entry-point group of methods from other packages (`[project.entry-points."s3core.methods"]`)
ENTRY_POINTS = "s3core.methods"


def builtin() -> tuple[Method, ...]:
    """This project's methods, in the paper's row order."""
    from s3core.methods import deepretrieval, direct, ircot, rag, s3, search_o1, search_r1

    return (
        direct.DIRECT,
        direct.COT,
        rag.RAG_BM25,
        rag.RAG_DENSE,
        ircot.METHOD,
        search_o1.METHOD,
        search_r1.METHOD,
        deepretrieval.METHOD,
        s3.S3_STEP0,
        s3.S3,
        s3.S3_RELEASED,
    )


@cache
def registry() -> dict[str, Method]:
    """Name -> method: the built-in ones, then each installed plugin's (a name taken twice is an error)."""
    methods: dict[str, Method] = {}
    plugins = []
    for point in entry_points(group=ENTRY_POINTS):
        method = point.load()
        if not isinstance(method, Method):
            raise ConfigError(f"entry point {point.name} = {point.value} ({ENTRY_POINTS}) is not an s3core Method")
        plugins.append(method)
    for method in (*builtin(), *plugins):
        if method.name in methods:
            raise ConfigError(f"two methods are named {method.name!r}: rename one (plugins: {ENTRY_POINTS})")
        methods[method.name] = method
    return methods


def labels() -> dict[str, str]:
    """Name -> table row label, in row order."""
    return {name: method.label for name, method in registry().items()}

"""The `#:` comment above each field of the config's section classes (`sections.py`), written from the schema's
`description` of that key, so the classes say what a key means without a second text to keep in step.

`python -m s3core.config.field_docs --write` rewrites the comments after the schema changed; without `--write` it
lists the fields whose comment and description disagree (and exits 1), as `tests/test_sections.py` does. A
description longer than two lines is cut with " …" (the schema keeps the whole text); a key the schema leaves
undescribed gets no comment.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from s3core.config import schema as config_schema
from s3core.config import sections

SOURCE = Path(sections.__file__)
WIDTH = 120
MAX_LINES = 2
_COMMENT = re.compile(r"^\s*#:")


def _node(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A schema node with a `$ref` into `$defs` followed."""
    if "$ref" in node:
        return typing.cast(dict[str, Any], schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    return node


def _description(schema: dict[str, Any], node: dict[str, Any]) -> str | None:
    """A key's description: its own, else that of the definition it refers to; whitespace collapsed."""
    text = node.get("description") or _node(schema, node).get("description")
    return " ".join(text.split()) if text else None


def _walk(schema: dict[str, Any], node: dict[str, Any], cls: type, found: dict[str, dict[str, str | None]]) -> None:
    """Record the description of each field of `cls` (the schema object `node`), then of its nested sections."""
    properties = _node(schema, node).get("properties", {})
    fields = found.setdefault(cls.__name__, {})
    for name, hint in typing.get_type_hints(cls).items():
        prop = properties.get(name, {})
        text = _description(schema, prop)
        if fields.setdefault(name, text) != text:
            raise ValueError(f"{cls.__name__}.{name}: two schema keys with different descriptions map to it")
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            _walk(schema, prop, hint, found)


def descriptions(schema: dict[str, Any] | None = None) -> dict[str, dict[str, str | None]]:
    """Class name -> field -> the schema's description of that key (None where it has none), for every section
    class reachable from `JobConfig` (a generator's class through `generators`' entries)."""
    schema = schema or config_schema.schema()
    found: dict[str, dict[str, str | None]] = {}
    top = schema["properties"]
    found[sections.JobConfig.__name__] = {name: _description(schema, top[name]) for name in sections.SECTIONS}
    for name, cls in sections.SECTIONS.items():
        node = top[name]
        if name == "generators":
            node, cls = node["additionalProperties"], sections.GeneratorConfig
        _walk(schema, node, cls, found)
    return found


def comment_lines(text: str | None, indent: str) -> list[str]:
    """The `#:` lines for a description (none for None): wrapped at WIDTH, at most MAX_LINES."""
    if not text:
        return []
    prefix = f"{indent}#: "
    return [prefix + line for line in textwrap.wrap(text, WIDTH - len(prefix), max_lines=MAX_LINES, placeholder=" …")]


def _fields(source: str) -> list[tuple[str, str, int]]:
    """(class, field, 0-based line) of every annotated field in the source's classes."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.append((node.name, item.target.id, item.lineno - 1))
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _comment_above(lines: list[str], index: int) -> int:
    """Where the `#:` lines right above line `index` start (`index` when there are none)."""
    start = index
    while start > 0 and _COMMENT.match(lines[start - 1]):
        start -= 1
    return start


def documented(source: str, schema: dict[str, Any] | None = None) -> str:
    """`source` (sections.py) with each field's `#:` comment rewritten from the schema."""
    docs = descriptions(schema)
    lines = source.splitlines(keepends=True)
    for cls, field, index in reversed(_fields(source)):
        if cls not in docs:
            continue
        fresh = [line + "\n" for line in comment_lines(docs[cls].get(field), _indent(lines[index]))]
        lines[_comment_above(lines, index) : index] = fresh
    return "".join(lines)


def stale(source: str, schema: dict[str, Any] | None = None) -> list[str]:
    """`Class.field` of each field whose comment in `source` is not the schema's description."""
    docs = descriptions(schema)
    lines = source.splitlines()
    return [
        f"{cls}.{field}"
        for cls, field, index in _fields(source)
        if cls in docs
        and lines[_comment_above(lines, index) : index] != comment_lines(docs[cls].get(field), _indent(lines[index]))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite the comments in {SOURCE}")
    args = parser.parse_args(argv)
    source = SOURCE.read_text(encoding="utf-8")
    if args.write:
        SOURCE.write_text(documented(source), encoding="utf-8")
        return 0
    if found := stale(source):
        print(f"{SOURCE}: comments out of step with the schema: {', '.join(found)}", file=sys.stderr)
        print("run: python -m s3core.config.field_docs --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

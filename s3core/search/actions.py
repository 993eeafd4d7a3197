"""Parse one searcher turn into its action (upstream's rules): `<query>` JSON, `<important_info>`, `<search_complete>`.

The first complete occurrence of each tag in a turn counts, as upstream's `re.search` takes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

COMPLETE_VALUES = {"true", "yes", "1", "y"}
#: Doc ids an `<important_info>` may name (upstream's reward code keeps 1..8, whatever the block size).
MAX_DOC_ID = 8


def first_tag(text: str, tag: str) -> str | None:
    """Content of the first complete `<tag>...</tag>` in `text`, stripped (None when there is none)."""
    found = re.search(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
    return found.group(1).strip() if found else None


def parse_query(raw: str) -> str:
    """The search query inside `<query>` (stripped): a JSON object's `query` value (a list -> its first element);
    anything else - other JSON, a non-string value, invalid JSON - is the raw text."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return raw
    query = value.get("query") if isinstance(value, dict) else None
    if isinstance(query, list):
        query = query[0] if query else None
    return query if isinstance(query, str) else raw


def parse_doc_ids(raw: str, block_size: int) -> list[int]:
    """Distinct doc ids named in `<important_info>`, in the order written, kept when in 1..8 and in the block."""
    ids = [int(token) for token in re.findall(r"\d+", raw)]
    return list(dict.fromkeys(i for i in ids if 1 <= i <= min(MAX_DOC_ID, block_size)))


@dataclass(frozen=True)
class Action:
    """What one turn asks for: a search, the end of the episode, or nothing valid.
    `important_ids` is None when the turn has no `<important_info>` (an empty list marks "none useful")."""

    query: str | None = None
    complete: bool = False
    important_ids: list[int] | None = None

    @property
    def valid(self) -> bool:
        return self.complete or bool(self.query)


def parse_action(text: str, block_size: int) -> Action:
    """Read a turn; `block_size` is the number of docs in the nearest preceding `<information>` block.
    `<search_complete>` true ends the episode and overrides any query in the same turn; an empty query is no
    valid action (upstream would search for the empty string)."""
    complete_raw = first_tag(text, "search_complete")
    complete = complete_raw is not None and complete_raw.lower() in COMPLETE_VALUES
    important_raw = first_tag(text, "important_info")
    important = None if important_raw is None else parse_doc_ids(important_raw, block_size)
    query_raw = first_tag(text, "query")
    query = None if complete or query_raw is None else parse_query(query_raw)
    return Action(query=query if query and query.strip() else None, complete=complete, important_ids=important)

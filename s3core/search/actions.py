"""Parse one searcher turn into its action (DESIGN §1): `<query>` JSON, `<important_info>`, `<search_complete>`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

COMPLETE_VALUES = {"true", "yes", "1", "y"}
MAX_SELECTED = 3


def _last_tag(text: str, tag: str) -> str | None:
    """Content of the last complete `<tag>...</tag>` in `text` (None when there is none)."""
    found = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
    return found[-1].strip() if found else None


def parse_query(raw: str) -> str:
    """The search query inside `<query>`: JSON `{"query": ...}` (a list -> its first element); else the raw text."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()
    if isinstance(value, dict):
        value = value.get("query", "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def parse_doc_ids(raw: str, block_size: int, max_selected: int = MAX_SELECTED) -> list[int]:
    """Doc ids (1..block_size) named in `<important_info>`, the first `max_selected` distinct ones, in order."""
    ids: list[int] = []
    for token in re.findall(r"\d+", raw):
        doc_id = int(token)
        if 1 <= doc_id <= block_size and doc_id not in ids:
            ids.append(doc_id)
    return ids[:max_selected]


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


def parse_action(text: str, block_size: int, max_selected: int = MAX_SELECTED) -> Action:
    """Read a turn; `block_size` is the number of docs in the nearest preceding `<information>` block.
    `<search_complete>` true ends the episode and overrides any query in the same turn."""
    complete_raw = _last_tag(text, "search_complete")
    complete = complete_raw is not None and complete_raw.lower() in COMPLETE_VALUES
    important_raw = _last_tag(text, "important_info")
    important = None if important_raw is None else parse_doc_ids(important_raw, block_size, max_selected)
    query_raw = _last_tag(text, "query")
    query = None if complete or query_raw is None else (parse_query(query_raw) or None)
    return Action(query=query, complete=complete, important_ids=important)

"""Secrets out of what is written down: credentials inside URLs (`https://user:token@host`, `?api_key=...`) are
masked before a URL or a command line reaches a provenance record, a log or an error message."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s\"']+@")
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&](?:api[_-]?key|key|token|access_token|password|secret|sig)=)[^&#\s\"']+", re.IGNORECASE
)


def redact(text: str) -> str:
    """`text` with every URL's user:password and secret query parameters replaced by `***`."""
    return _SECRET_PARAMS.sub(r"\g<key>***", _USERINFO.sub(r"\g<scheme>***@", text))

"""What the kernel says of a process's CPU priority."""

from __future__ import annotations

from pathlib import Path


def session_nice(pid: int) -> int | None:
    """The nice value of `pid`'s scheduling group ("/autogroup-7 nice 5"), None where the kernel has no autogroup."""
    group = Path(f"/proc/{pid}/autogroup")
    return int(group.read_text().split()[-1]) if group.exists() else None

"""What the kernel says of a process's CPU priority."""

from __future__ import annotations

import subprocess
from pathlib import Path


def session_nice(pid: int) -> int | None:
    """The nice value of `pid`'s scheduling group ("/autogroup-7 nice 5"), None where the kernel has no autogroup."""
    group = Path(f"/proc/{pid}/autogroup")
    return int(group.read_text().split()[-1]) if group.exists() else None


def group_niceness(pgid: int) -> set[int]:
    """The nice values of the processes in process group `pgid`."""
    table = subprocess.run(["ps", "-e", "-o", "pgid=,ni="], capture_output=True, text=True, check=True).stdout.split()
    return {int(ni) for group, ni in zip(table[::2], table[1::2]) if int(group) == pgid}

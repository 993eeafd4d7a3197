"""What the kernel says of a process: its CPU priority, its process group, its environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def session_nice(pid: int) -> int | None:
    """The nice value of `pid`'s scheduling group ("/autogroup-7 nice 5"), None where the kernel has no autogroup."""
    group = Path(f"/proc/{pid}/autogroup")
    return int(group.read_text().split()[-1]) if group.exists() else None


def group_pids(pgid: int) -> list[int]:
    """The processes in process group `pgid`."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True, check=True).stdout.split()
    return [int(pid) for pid, group in zip(table[::2], table[1::2]) if int(group) == pgid]


def group_niceness(pgid: int) -> set[int]:
    """The nice values of the processes in process group `pgid`."""
    return {os.getpriority(os.PRIO_PROCESS, pid) for pid in group_pids(pgid)}


def environment(pid: int) -> dict[str, str]:
    """The environment process `pid` started with."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)

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
    """The live processes (not zombies) in process group `pgid`."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=True)
    rows = [line.split() for line in table.stdout.splitlines()]
    return [int(pid) for pid, group, state in rows if int(group) == pgid and not state.startswith("Z")]


def group_niceness(pgid: int) -> set[int]:
    """The nice values of the processes in process group `pgid`."""
    return {os.getpriority(os.PRIO_PROCESS, pid) for pid in group_pids(pgid)}


def environment(pid: int) -> dict[str, str]:
    """The environment process `pid` started with."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)

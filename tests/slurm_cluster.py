"""Whether the tests have a SLURM cluster (no workflow imports: conftest loads this in .venv-training too)."""

from __future__ import annotations

import shutil
import subprocess

BRING_UP = "sudo FAKE_GPUS=1 CPUS=8 bash scripts/local-slurm-up.sh"


def slurm_controller_up() -> bool:
    """Whether a SLURM controller answers here (`scripts/local-slurm-up.sh` brings one up)."""
    if not shutil.which("sbatch"):
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return "UP" in ping.stdout

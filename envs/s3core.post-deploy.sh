#!/usr/bin/env bash
# Snakemake runs this inside envs/s3core.yaml's environment right after creating it, from the working
# directory (the repository root): install the s3core package the rules call, without touching the pins.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e .

#!/usr/bin/env bash
# Snakemake runs this inside the training env right after creating it, from the repository root: the project (as in
# every s3core env), then flash-attn, built against the env's torch (its build imports torch, so no build
# isolation). The critic's value model loads with flash_attention_2 whatever the config says. Building needs nvcc
# matching torch's CUDA (13.0) where no prebuilt wheel fits; on a node without it, use containers/training.sif.
set -euo pipefail
bash "$(dirname "$0")/install-s3core.sh"
python -m pip install --no-deps --no-build-isolation flash-attn==2.8.3

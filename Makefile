# Two commands: `make demo` (set up, then run the whole DAG on the embedded demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-assets.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: setup
	$(BIN)/snakemake --profile workflow/profiles/local all
	@echo "Results table: results/demo/tables/main.md (and main.csv)"

test: setup
	$(BIN)/python -m pytest -q -ra

lint: setup
	$(BIN)/snakemake --lint

bench: setup
	test -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java || (apt-get update && apt-get install -y openjdk-17-jdk-headless)
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/bm25_vs_pyserini.py
	$(BIN)/python benchmarks/retriever_server.py

clean:
	rm -rf results .snakemake

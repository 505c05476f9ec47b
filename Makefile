# LoopLedger: `make run` starts the embedded system, `make test` runs every check.
# Both work from a fresh clone with only Python 3.11, Node.js and npm on the machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := node_modules/@foundry-rs/forge-linux-amd64/bin/forge
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
BROWSER_STAMP := $(VENV)/.browser

.PHONY: setup run test lint typecheck forge-test pytest gas snapshot clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

run: setup
	$(BIN)/loopledger up

test: setup lint typecheck forge-test pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check ledger api pilots scripts tests
	$(BIN)/ruff format --check ledger api pilots scripts tests

typecheck: $(PY_STAMP)
	$(BIN)/mypy

forge-test: $(NPM_STAMP)
	FOUNDRY_PROFILE=ci $(FORGE) test

pytest: setup
	$(BIN)/pytest -q

gas: setup
	$(BIN)/python scripts/bench_gas.py

snapshot: $(NPM_STAMP)
	$(FORGE) snapshot

clean:
	rm -rf out cache .loopledger .pytest_cache .mypy_cache .ruff_cache

# LoopLedger: `make run` starts the embedded system, `make test` runs every check.
# `make run` needs Python 3.11, Node.js and npm; `make test` also installs Debian's chromium and
# postgresql-15 when they are missing (apt-get, as root or through sudo).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := node_modules/@foundry-rs/forge-linux-amd64/bin/forge
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
BROWSER_STAMP := $(VENV)/.browser
PG_BIN := /usr/lib/postgresql/15/bin

.PHONY: setup browser postgres run test lint typecheck forge-test slither pytest gas snapshot clean

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

test: setup browser postgres lint typecheck forge-test slither pytest

# Browser tests drive Debian's Chromium through Playwright (no browser download: only package
# registries are reachable). Installed once from Debian's packages when it is missing.
browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(PY_STAMP)
	@if ! command -v chromium >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing Debian's chromium for the browser tests"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
	@chromium --version
	@touch $@

# The store tests start a throwaway PostgreSQL 15 cluster from its binaries (no server runs).
postgres:
	@if [ ! -x $(PG_BIN)/initdb ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing Debian's postgresql-15 for the store tests"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-15 >/dev/null; \
	fi
	@$(PG_BIN)/postgres --version

lint: $(PY_STAMP)
	$(BIN)/ruff check ledger api pilots scripts tests loopledger
	$(BIN)/ruff format --check ledger api pilots scripts tests loopledger
	@! grep -rnE '#[[:space:]]*fmt:[[:space:]]*(skip|off)' --include='*.py' ledger api pilots scripts tests loopledger \
		|| { echo "the formatter stays on: remove the fmt directives above"; exit 1; }

typecheck: $(PY_STAMP)
	$(BIN)/mypy

forge-test: $(NPM_STAMP)
	FOUNDRY_PROFILE=ci $(FORGE) test

# Slither from PyPI in its own environment (its releases pin web3 < 8); it compiles through
# forge and scripts/solc, so no compiler is downloaded. Accepted findings: contracts/slither-triage.toml.
SLITHER_VENV := .venv-slither
SLITHER_STAMP := $(SLITHER_VENV)/.installed

$(SLITHER_STAMP):
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet 'slither-analyzer==0.11.6'
	@touch $@

slither: $(SLITHER_STAMP) $(NPM_STAMP) $(PY_STAMP)
	$(BIN)/python scripts/slither_check.py --slither $(SLITHER_VENV)/bin/slither

pytest: setup browser postgres
	$(BIN)/pytest -q

gas: setup
	$(BIN)/python scripts/bench_gas.py

snapshot: $(NPM_STAMP)
	$(FORGE) snapshot

clean:
	rm -rf out cache .loopledger .pytest_cache .mypy_cache .ruff_cache $(SLITHER_VENV)

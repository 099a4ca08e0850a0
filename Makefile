# The two commands: `make run` and `make test`. CI runs `make test` too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 4000

.PHONY: run test lint typecheck unit services bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/tether serve --host $(HOST) --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

services:
	bash scripts/ensure-services.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test: $(VENV)/.installed-dev services lint typecheck
	$(BIN)/pytest

$(VENV)/.installed-bench: requirements-bench.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-bench.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed $(VENV)/.installed-dev

# The benchmark harness (a few minutes): tables and plots into docs/benchmarks/.
bench: $(VENV)/.installed-bench services
	$(BIN)/python bench/chain_lookup.py
	$(BIN)/python bench/run.py

# Re-pin the lock files after changing dependencies in pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 -q
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --python-version 3.11 -q
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench -o requirements-bench.lock --python-version 3.11 -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Real clients (the Open Responses compliance suite, ...) against a tether started on a
# free port with a fake model; installs them into .clients/. Not part of `make test`.
# `make clients OPENRESPONSES_DIR=/path/to/openresponses`; see docs/clients.md.
.PHONY: clients
clients: $(VENV)/.installed
	OPENRESPONSES_DIR="$(OPENRESPONSES_DIR)" $(BIN)/python scripts/clients/run.py

# Quick start: `make run` serves the API on HOST:PORT (default 127.0.0.1:3000); `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format migrate reset bench clean

# uv installs the pinned requirements into .venv: 10-14 s where pip took 30 (it downloads and
# unpacks in parallel), the bytecode compiled as pip would, so that every process imports from
# .pyc. uv itself comes from the package index with the venv's own pip, at this version.
UV_VERSION := 0.13.9
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python main.py

# mypy runs beside the tests, at the lowest priority: it takes the CPU time their workers leave
# idle (waiting on servers and scripts) rather than share the cores with them. Where the kernel
# groups processes by session (autogroup), `nice` alone weighs only within a group, and mypy
# took a full share beside the test workers (20 s of a run): it gets a session of its own, and
# that group the lowest weight. make fails if it or the tests fail.
LOWEST := setsid --wait sh -c 'echo 19 > /proc/self/autogroup 2>/dev/null; exec nice -n 19 "$$0" "$$@"'

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(LOWEST) $(BIN)/mypy . & types=$$!; $(BIN)/python -m pytest; tests=$$?; wait $$types && exit $$tests

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.runtime
	$(BIN)/alembic upgrade head

# Needs wrk (apt-get install wrk). The first run generates 100,000 customers once into .bench/
# (SQLite, ~90 s) and, when PostgreSQL answers, into bench_bank_large_100000 (~7 min). ~20 min a run.
bench: $(VENV)/.dev
	$(BIN)/python bench.py

reset: $(VENV)/.runtime
	$(BIN)/python reset_database.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

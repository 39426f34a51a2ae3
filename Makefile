# The two commands of the README: `make run` and `make test`.
# Both create .venv when it is missing and install what they need; python3 >= 3.11 is enough.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck bench-setup bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[example]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,example]'
	touch $@ $(VENV)/.installed-run

## run: set up and run the main job (examples/recommendations) on the embedded SQLite store
run: $(VENV)/.installed-run
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/recommendations/demo.sh

## test: set up and run lint, type checks, the layering contract, the whole suite and a
## quick benchmark
test: $(VENV)/.installed-test lint typecheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q
	$(MAKE) --no-print-directory bench-quick

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

## bench-setup: one venv per peer under .bench/ (Prefect, Dagster, Airflow, DBOS), pinned in
## benchmarks/requirements/; a peer that fails to install is reported and skipped
bench-setup:
	PYTHON=$(PYTHON) bash benchmarks/setup.sh || true

## bench: every workload for legato and each peer, interleaved, 3 repetitions (about 25 min);
## writes benchmarks/results/latest.md and latest.json
bench: $(VENV)/.installed-test bench-setup
	$(BIN)/python benchmarks/run.py

## bench-quick: the benchmark scripts on small sizes, legato only, one repetition (seconds)
bench-quick: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) .legato examples/recommendations/data .pytest_cache .mypy_cache .ruff_cache

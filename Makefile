# The two commands of the README: `make run` and `make test`.
# Both create .venv when it is missing and install what they need; python3 >= 3.11 is enough.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck bench-quick clean

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
	$(BIN)/python benchmarks/chain.py --quick

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

bench-quick: $(VENV)/.installed-test
	$(BIN)/python benchmarks/chain.py --quick

clean:
	rm -rf $(VENV) .legato examples/recommendations/data .pytest_cache .mypy_cache .ruff_cache

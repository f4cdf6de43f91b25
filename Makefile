# Every target sets up what it needs: the first run creates .venv and installs ccpulse
# with its development tools (about two minutes); later runs reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration e2e schemas schemas-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ccpulse demo $(ARGS)

test: lint schemas-check
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy processor

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

schemas: $(STAMP)
	$(BIN)/python -m processor.contracts write

schemas-check: $(STAMP)
	$(BIN)/python -m processor.contracts check

bench: $(STAMP)
	$(BIN)/python benchmarks/core_throughput.py

clean:
	rm -rf $(VENV) .ccpulse .pytest_cache .mypy_cache .ruff_cache

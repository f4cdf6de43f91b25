# Developer entry points. Every target sets up what it needs: the first run creates .venv
# and installs ccpulse with its development tools (a minute or two); later runs reuse it,
# and re-install only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint unit integration e2e schemas schemas-check bench clean

help:
	@echo "make test           lint + schemas-check + the whole test suite"
	@echo "make lint           ruff check, ruff format --check, mypy --strict"
	@echo "make unit           tests/unit only (no broker)"
	@echo "make integration    tests/integration (embedded broker)"
	@echo "make e2e            tests/e2e (the whole stack as a user runs it)"
	@echo "make schemas        regenerate schemas/, the dashboards and the README reference sections"
	@echo "make schemas-check  fail if those are stale"
	@echo "make demo ARGS=...  ccpulse demo: everything on this machine, no Kafka install"
	@echo "make bench          core throughput benchmark (not part of make test)"
	@echo "make clean          remove .venv and local state"

# Keyed on pip rather than python: a venv whose creation failed half-way (Debian without
# python3-venv) has a python but no pip, and would otherwise never be repaired.
$(STAMP): pyproject.toml
	test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
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

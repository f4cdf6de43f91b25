# Developer entry points. Every target sets up what it needs: the first run creates .venv
# and installs ccpulse with its development tools (a minute or two); later runs reuse it,
# and re-install only when pyproject.toml or the lock file changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions and hashes of every package, for Python 3.11 on Linux: LOCK for the
# development tools too, RUNTIME_LOCK (the same pins) for the image. `make lock` writes them.
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/lock-runtime.txt
UV_VERSION := 0.13.9
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 --python-platform linux \
	--custom-compile-command "make lock"
BUILD_REQUIRES := import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")

.DEFAULT_GOAL := help
.PHONY: help demo test lint unit integration e2e reliability schemas schemas-check bench bench-quick lock clean

help:
	@echo "make test           lint + schemas-check + the whole test suite"
	@echo "make lint           ruff check, ruff format --check, mypy --strict"
	@echo "make unit           tests/unit only (no broker)"
	@echo "make integration    tests/integration (embedded broker)"
	@echo "make e2e            tests/e2e (the whole stack as a user runs it)"
	@echo "make reliability    the long crash test (20 SIGKILLs, 100,000 messages) and the soak (~40 min)"
	@echo "make schemas        regenerate schemas/, the dashboards and the README reference sections"
	@echo "make schemas-check  fail if those are stale"
	@echo "make demo ARGS=...  ccpulse demo: everything on this machine, no Kafka install"
	@echo "make bench          every benchmark on the embedded broker (~11 min), rewrites benchmarks/RESULTS.md"
	@echo "make bench-quick    the same at small sizes (~1.5 min): proves the benchmarks run"
	@echo "make lock           re-pin $(LOCK) and $(RUNTIME_LOCK) (ARGS=--upgrade: newest versions)"
	@echo "make clean          remove .venv and local state"

# Keyed on pip rather than python: a venv whose creation failed half-way (Debian without
# python3-venv) has a python but no pip, and would otherwise never be repaired. Only the
# hash-checked packages of the lock go in; ccpulse itself is built with the locked
# setuptools (build isolation would fetch an unpinned one).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ccpulse demo $(ARGS)

test: lint schemas-check
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy processor benchmarks tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

reliability: $(STAMP)
	CCPULSE_CRASH_KILLS=20 CCPULSE_CRASH_EVENTS=100000 \
		$(BIN)/python -m pytest -s tests/integration/test_crash.py tests/integration/test_rebalance.py
	$(BIN)/python tests/soak/soak.py --events 1000000

schemas: $(STAMP)
	$(BIN)/python -m processor.contracts write

schemas-check: $(STAMP)
	$(BIN)/python -m processor.contracts check

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

# uv in a throw-away venv resolves from PyPI; pins already in the files are kept unless
# pyproject.toml no longer admits them or ARGS=--upgrade. The runtime lock is constrained
# to the full one, so both hold the same versions.
lock:
	mkdir -p $(dir $(LOCK))
	tools=$$(mktemp -d) && trap 'rm -rf "$$tools"' EXIT \
	&& $(PYTHON) -m venv "$$tools" \
	&& "$$tools/bin/pip" install --quiet uv==$(UV_VERSION) \
	&& build=$$($(PYTHON) -c '$(BUILD_REQUIRES)') \
	&& echo "$$build" | "$$tools/bin/uv" pip compile $(LOCK_FLAGS) $(ARGS) \
		--extra dev pyproject.toml - -o $(LOCK) \
	&& echo "$$build" | "$$tools/bin/uv" pip compile $(LOCK_FLAGS) $(ARGS) \
		pyproject.toml - -c $(LOCK) -o $(RUNTIME_LOCK)

clean:
	rm -rf $(VENV) .ccpulse .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine (Python 3.11, make, registry access):
#   make demo   build the environment from uv.lock and run the whole chain on a synthetic county
#   make test   build the same environment and run the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
RUN := $(UV) run --frozen --no-sync

.PHONY: demo test test-fast lint format bench env clean

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'

$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen
	@touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(RUN) triage demo

test: $(STAMP)
	$(RUN) pytest -n auto --dist loadgroup

# the edit-test loop: everything but the county-scale tests (CI runs them all)
test-fast: $(STAMP)
	$(RUN) pytest -n auto --dist loadgroup -m "not slow"

lint: $(STAMP)
	$(RUN) ruff format --check triage tests benchmarks
	$(RUN) ruff check triage tests benchmarks
	$(RUN) mypy

format: $(STAMP)
	$(RUN) ruff format triage tests benchmarks
	$(RUN) ruff check --fix triage tests benchmarks

bench: $(STAMP)
	$(RUN) python benchmarks/bench_synth.py
	$(RUN) python benchmarks/bench_features.py
	$(RUN) python benchmarks/bench_train.py
	$(RUN) python benchmarks/bench_audit.py
	$(RUN) python benchmarks/bench_service.py
	$(RUN) python benchmarks/bench_http_floor.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache

# deepverify — the two commands that matter are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
export DEEPVERIFY_DETECTOR_DIR ?= $(SHARED)/models
export DEEPVERIFY_SHARED_DATA ?= $(SHARED)/data
VIDEO ?= $(SHARED)/data/eval/fake/ffpp_df_519_515.mp4

.PHONY: install run test lint typecheck pytest bench clean

# Idempotent: re-installs only when pyproject.toml is newer than the stamp.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(BIN)/deepverify scan "$(VIDEO)" --out runs/scan

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/run_bench.py --out bench/results.json

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

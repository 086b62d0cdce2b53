# deepverify — the two commands that matter are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
export DEEPVERIFY_DETECTOR_DIR ?= $(SHARED)/models
export DEEPVERIFY_SHARED_DATA ?= $(SHARED)/data
export NEXT_TELEMETRY_DISABLED := 1
VIDEO ?= $(SHARED)/data/eval/fake/ffpp_df_519_515.mp4

WEB := web
WEB_STATIC := src/deepverify/service/static
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) \
	$(WEB)/package.json $(WEB)/package-lock.json $(WEB)/next.config.mjs $(WEB)/tsconfig.json

.PHONY: install run scan test test-slow lint typecheck pytest bench load-test web-client web-client-check clean
.PHONY: image up down stack-test

# Idempotent: the venv is re-installed only when pyproject.toml changed, the web UI rebuilt only
# when its sources changed.
install: $(VENV)/.installed $(WEB_STATIC)/index.html

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(WEB)/node_modules/.installed: $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_STATIC)/index.html: $(WEB)/node_modules/.installed $(WEB_SOURCES)
	cd $(WEB) && npm run build
	rm -rf $(WEB_STATIC) && cp -R $(WEB)/out $(WEB_STATIC)

# The product: API + web UI + in-process worker on http://127.0.0.1:$${DEEPVERIFY_PORT:-8000}.
run: install
	$(BIN)/deepverify serve

# One scan from the command line: make scan VIDEO=path/to/clip.mp4
scan: install
	$(BIN)/deepverify scan "$(VIDEO)" --out runs/scan

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	cd $(WEB) && npm run lint

typecheck: install
	$(BIN)/mypy

# pytest-xdist workers: on 2 cores, 2 took the default set from 256 s to 209 s (PYTEST_WORKERS=0:
# one process, as when debugging).
PYTEST_WORKERS ?= 2

# The default set: every module, one of each end-to-end kind; the 25 slowest tests are listed.
pytest: install
	$(BIN)/pytest -m "not slow" -n $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

test: lint typecheck pytest

# The slow set (CI runs it after `make test`): the full frame-skipping sweep over the shared
# clips and the repetitions of the end-to-end tests.
test-slow: install
	$(BIN)/pytest -m slow -n $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_bench.py --out bench/results.json

load-test: install
	$(BIN)/python scripts/load_test.py

web-client: $(VENV)/.installed $(WEB)/node_modules/.installed
	$(BIN)/python scripts/web_client.py

web-client-check: $(VENV)/.installed $(WEB)/node_modules/.installed
	$(BIN)/python scripts/web_client.py --check

# Containers (deploy/, docs/deploy.md): images built from Debian packages with podman, no registry;
# the composed stack (API, two workers, Postgres, Redis, SeaweedFS) on http://127.0.0.1:8080.
image: install
	deploy/build.sh

up:
	deploy/stack.sh up

down:
	deploy/stack.sh down

# Slow (image build, stack start): not part of `make test`.
stack-test: install
	deploy/build.sh --missing
	deploy/stack.sh up
	deploy/stack.sh test || { deploy/stack.sh down; exit 1; }
	deploy/stack.sh down

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/out $(WEB_STATIC)

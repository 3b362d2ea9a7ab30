# Haechi — the same commands for developers and CI. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,postgres,mysql,redis,s3,train,granian

.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/haechi: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

install: $(BIN)/haechi ## Create .venv and install Haechi with its dev extras

serve: install widget dashboard ## Run Haechi on embedded defaults (SQLite, in-process store) at :8080
	$(BIN)/haechi serve --host 127.0.0.1 --port 8080

widget: ## Build the widget into widget/dist (prints gzip sizes; fails over 15 KB)
	cd widget && npm ci --no-audit --no-fund && npm run build

widget-test: widget ## Widget type check and unit tests (node's test runner)
	cd widget && npm run typecheck && npm test

# The website and dashboard (dashboard/): rebuilt only when a source, the lock file or docs/ changed.
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/public dashboard/vite-plugins docs -type f 2>/dev/null) \
	dashboard/index.html dashboard/vite.config.ts dashboard/tsconfig.json dashboard/scripts/budget.mjs

dashboard/node_modules/.package-lock.json: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	@touch $@

dashboard/dist/index.html: dashboard/node_modules/.package-lock.json $(DASHBOARD_SOURCES)
	cd dashboard && npm run build

dashboard: dashboard/dist/index.html ## Build the website + dashboard into dashboard/dist when its sources changed (fails over 200 KB gzip JS)

dashboard-test: dashboard ## Dashboard type check (tsc --noEmit) and unit tests (Vitest)
	cd dashboard && npm run typecheck && npm test

dashboard-client-check: install dashboard ## Fail when dashboard/src/client differs from the platform API's OpenAPI (CI)
	cd dashboard && PYTHON=$(CURDIR)/$(BIN)/python scripts/gen-client --check

test: install widget dashboard-test ## Run the whole test suite (unit + integration on SQLite/PostgreSQL/MariaDB × memory/Redis)
	@$(BIN)/pytest -q $(PYTEST_ARGS); status=$$?; \
	  if [ $$status = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

compile: install ## Compile the edge's hot path with mypyc into build/compiled (used while its sources are unchanged)
	$(BIN)/python -m haechi.build_compiled

test-compiled: compile ## Unit and integration tests on the compiled hot path (CI runs both builds)
	HAECHI_EXPECT_COMPILED=1 $(BIN)/pytest -q tests/unit tests/integration

test-unit: install ## Unit tests only (no services needed)
	$(BIN)/pytest -q tests/unit

lint: install ## ruff lint + format check, mypy strict on src/
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install ## Apply ruff formatting and safe fixes
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench-widget: install widget ## Widget timings in headless Chromium (load-to-token, worker hash rate)
	HAECHI_WIDGET_BENCH=1 $(BIN)/pytest -q -s tests/e2e/test_widget_bench.py

train: install ## Retrain every shipped model into src/haechi/models (fixed seeds; about an hour on 2 cores)
	$(BIN)/python -m haechi.ml.train
	$(BIN)/python -m haechi.ml.train_abstract
	$(BIN)/python -m haechi.ml.train_grid
	$(BIN)/python -m haechi.ml.train_handwriting

train-smoke: install ## Every trainer's --quick run into a temp folder (seconds to a minute each)
	$(BIN)/python -m haechi.ml.train --quick
	$(BIN)/python -m haechi.ml.train_abstract --quick
	$(BIN)/python -m haechi.ml.train_grid --quick
	$(BIN)/python -m haechi.ml.train_handwriting --quick

bench: install compile ## Protocol throughput under wrk (compiled hot path), embedded and Redis, beside a bare endpoint
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/protocol/run.py $(BENCH_ARGS)

bench-smoke: install ## A 1-second-per-scenario run of the protocol benchmark (CI): it works, answers are correct
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/protocol/run.py --quick

soak: install ## 10 minutes of unique paths and slow heads at the limits; fails if RSS grows >10 % after the first minute (not CI)
	nice -n 10 $(BIN)/python bench/soak/run.py $(SOAK_ARGS)

redteam: install ## Red team: bots against a live server per type, ≥1,000 challenges each (REDTEAM_ARGS="--record")
	$(BIN)/pip install --quiet -e '.[$(EXTRAS),redteam]'
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.redteam.run $(REDTEAM_ARGS)

redteam-smoke: install ## A seconds-long red-team run (CI): tiny pools, 20 challenges; skips attackers without packages
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.redteam.run --quick

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build/compiled

.PHONY: help install serve test test-compiled compile test-unit lint format clean widget widget-test bench-widget bench train train-smoke \
	dashboard dashboard-test dashboard-client-check \
	bench-smoke redteam redteam-smoke soak

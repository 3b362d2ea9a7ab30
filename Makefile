# Haechi — the same commands for developers and CI. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Extras per purpose: serving on embedded defaults needs none, the tests no torch (those few
# tests skip and name the command), CI and the trainers everything (`make install`).
EXTRAS ?= dev,postgres,mysql,redis,s3,train,granian
TEST_EXTRAS ?= dev,postgres,mysql,redis,s3,granian
SERVE_EXTRAS ?=
HOST ?= 127.0.0.1
PORT ?= 8080

.DEFAULT_GOAL := help
# A recipe that fails leaves no half-made target behind (a widget over its size budget).
.DELETE_ON_ERROR:

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per set of extras, redone when pyproject.toml changes; a stamp of a larger set that
# is up to date stands in for a smaller one (after `make install`, `make test` installs nothing).
define install_extras
	@if [ -n "$(2)" ] && [ "$(2)" -nt pyproject.toml ]; then touch $@; \
	elif [ -n "$(3)" ] && [ "$(3)" -nt pyproject.toml ]; then touch $@; \
	else echo "pip install -e '.$(if $(1),[$(1)])'"; \
	  $(BIN)/pip install --quiet -e '.$(if $(1),[$(1)])' && touch $@; fi
endef

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(call install_extras,$(EXTRAS))

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(call install_extras,$(TEST_EXTRAS),$(VENV)/.installed-all)

$(VENV)/.installed-serve: pyproject.toml | $(BIN)/python
	$(call install_extras,$(SERVE_EXTRAS),$(VENV)/.installed-all,$(VENV)/.installed-test)

install: $(VENV)/.installed-all ## Create .venv and install Haechi with every extra (CI, trainers)

install-test: $(VENV)/.installed-test ## Create .venv and install what the tests need (no torch)

serve: $(VENV)/.installed-serve widget dashboard ## Run Haechi on embedded defaults (SQLite, in-process store) at :8080 (HOST, PORT); compiles the hot path in the background when a C compiler is there
	@$(BIN)/python -m haechi.build_compiled auto
	$(BIN)/haechi serve --host $(HOST) --port $(PORT)

# The widget: npm ci only when the lock file changed, the build only when a source did.
WIDGET_SOURCES := $(shell find widget/src widget/scripts -type f 2>/dev/null) \
	widget/package.json widget/tsconfig.json

widget/node_modules/.package-lock.json: widget/package-lock.json
	cd widget && npm ci --no-audit --no-fund
	@touch $@

widget/dist/widget.js: widget/node_modules/.package-lock.json $(WIDGET_SOURCES)
	cd widget && npm run build
	@touch $@

widget: widget/dist/widget.js ## Build the widget into widget/dist when its sources changed (prints gzip sizes; fails over 15 KB)

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

dashboard-client-check: install-test dashboard ## Fail when dashboard/src/client differs from the platform API's OpenAPI (CI)
	cd dashboard && PYTHON=$(CURDIR)/$(BIN)/python scripts/gen-client --check

LIGHTHOUSE := build/tools/lighthouse/node_modules/.bin/lighthouse
lighthouse: install-test dashboard ## Lighthouse 12 (performance, accessibility; mobile and desktop) on the landing and analytics pages in headless Chromium
	test -x $(LIGHTHOUSE) || npm install --no-audit --no-fund --prefix build/tools/lighthouse lighthouse@12
	LIGHTHOUSE=$(CURDIR)/$(LIGHTHOUSE) $(BIN)/python dashboard/scripts/lighthouse.py

test: $(VENV)/.installed-test widget dashboard-test ## Run the whole test suite (unit + integration on SQLite/PostgreSQL/MariaDB × memory/Redis)
	@$(BIN)/pytest -q $(PYTEST_ARGS); status=$$?; \
	  if [ $$status = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

compile: install ## Compile the edge's hot path with mypyc into build/compiled (used while its sources are unchanged)
	$(BIN)/python -m haechi.build_compiled

test-compiled: compile ## Unit and integration tests on the compiled hot path (CI runs both builds)
	HAECHI_EXPECT_COMPILED=1 $(BIN)/pytest -q tests/unit tests/integration

test-unit: $(VENV)/.installed-test ## Unit tests only (no services needed)
	$(BIN)/pytest -q tests/unit

lint: install ## ruff lint + format check, mypy strict on src/
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed-test ## Apply ruff formatting and safe fixes
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench-widget: $(VENV)/.installed-test widget ## Widget timings in headless Chromium (load-to-token, worker hash rate)
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

usage-exact: install ## Issue 21's acceptance: 60 s of load through the edge (test-level site) on PostgreSQL + a private AOF Redis, the roll-up process SIGKILLed 3 times, Redis restarted once; SQL totals == tokens verified (counts in build/usage-exact.txt for bench/RESULTS.md)
	HAECHI_USAGE_LOAD_SECONDS=60 HAECHI_USAGE_RECORD=build/usage-exact.txt HAECHI_TEST_REQUIRE_SERVICES=1 \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/integration/test_usage_exact.py
	@cat build/usage-exact.txt

bench-analytics: install ## Analytics answers over 1,000 sites x 90 days of hourly roll-ups on PostgreSQL (p50/p99 per range, per site and per org; bar: 90 d p99 < 100 ms)
	$(BIN)/python bench/platform/analytics.py $(BENCH_ARGS)

bench-peers: install compile ## Haechi beside Cap (@cap.js/server) and ALTCHA (altcha-lib), one process each: issue, solve + verify (PEERS_ARGS="--record")
	cd bench/peers && npm ci --no-audit --no-fund
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/peers/run.py $(PEERS_ARGS)

soak: install ## 10 minutes of unique paths and slow heads at the limits; fails if RSS grows >10 % after the first minute (not CI)
	nice -n 10 $(BIN)/python bench/soak/run.py $(SOAK_ARGS)

redteam: install ## Red team: bots against a live server per type, ≥1,000 challenges each (REDTEAM_ARGS="--record")
	$(BIN)/pip install --quiet -e '.[$(EXTRAS),redteam]'
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.redteam.run $(REDTEAM_ARGS)

bench-platform: install ## Sign-in under brute force: 10,000 attempts on one account, unknown-vs-known timing (about an hour on 2 cores)
	$(BIN)/python bench/platform/login.py $(BENCH_ARGS)

bench-billing: install ## A month's charge run over 1,000 subscribed orgs, killed three times midway and rerun, on SQLite and PostgreSQL: each org charged once, invoices gap-free (BILLING_ORGS=1000)
	HAECHI_TEST_BILLING_ORGS=$(or $(BILLING_ORGS),1000) HAECHI_TEST_REQUIRE_SERVICES=1 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_billing_run.py -k killed_run

fuzz-api: install ## Schemathesis over /api as an org owner and a viewer on a live server (FUZZ_ARGS="--max-examples 100"; default 25, minutes)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/platform/fuzz.py $(FUZZ_ARGS)

redteam-smoke: install ## A seconds-long red-team run (CI): tiny pools, 20 challenges; skips attackers without packages
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.redteam.run --quick

# Xvfb, xdotool and Chromium for the people harness and the headed bot families.
BOTS_APT = command -v Xvfb >/dev/null && command -v xdotool >/dev/null && command -v chromium >/dev/null \
	&& command -v chromedriver >/dev/null && command -v firefox-esr >/dev/null \
	|| { apt-get update -qq && apt-get install -y -qq xvfb xdotool chromium chromium-driver firefox-esr >/dev/null; }
# The Puppeteer families' packages (puppeteer-extra-plugin-stealth, ghost-cursor), from the lockfile.
BOTS_NPM = test bench/bots/node_modules/.package-lock.json -nt bench/bots/package-lock.json \
	|| (cd bench/bots && npm ci --no-audit --no-fund --silent)

bench-bots: install widget ## Bot zoo and people harness on a fresh `haechi serve` (100 sessions a family; up to 2 h; BOTS_ARGS="--record")
	$(BOTS_APT)
	$(BOTS_NPM)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.bots.run $(BOTS_ARGS)

bench-bots-smoke: install widget ## The bot zoo's CI run: 3 families x 10 sessions (Playwright, Puppeteer + stealth, HTTP), 3 people (numbers are not judged here)
	$(BOTS_APT)
	$(BOTS_NPM)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.bots.run --quick

deploy-tools: ## checkov, kubernetes-validate (build/deploy-tools) and the CRD validators (deploy/validate) for deploy-check
	test -x build/deploy-tools/bin/checkov || { $(PYTHON) -m venv build/deploy-tools && \
	  build/deploy-tools/bin/pip install --quiet -r deploy/requirements-tools.txt; }
	cd deploy/validate && npm ci --no-audit --no-fund --silent

deploy-check: deploy-tools ## Validate deploy/: compose schema, every overlay (k8s + CRD schemas), alert rules and their tests, checkov, notices
	$(PYTHON) deploy/notices.py check
	build/deploy-tools/bin/python deploy/validate.py

image: ## Build the container image without a registry (mmdebstrap bases + podman; needs root)
	deploy/image/build.sh $(IMAGE_TAG)

image-smoke: install-test ## Run `haechi serve` from the built image's filesystem (read-only, uid 10001): health, readiness, a full CAPTCHA
	HAECHI_CLIENT=$(CURDIR)/$(BIN)/haechi deploy/image/smoke.sh $(IMAGE_TAG)

cluster: install compile ## Two edges, platform, worker on private PostgreSQL/Redis + S3 behind HAProxy, Prometheus: 1 vs 2 edges and faults
	$(BIN)/python bench/cluster/run.py $(CLUSTER_ARGS)

fault-blobs: install-test ## Fault: the fs blob store's disk fills (tmpfs; root): clear errors, no corruption, HaechiBlobDiskFilling fires (FAULT_ARGS="--record")
	$(BIN)/python bench/cluster/blobfull.py $(FAULT_ARGS)

cluster-smoke: install-test ## The cluster's CI run: start it, full flows through the balancer, kill an edge (HaechiTargetDown must fire)
	$(BIN)/python bench/cluster/run.py --smoke

cluster-soak: install-test ## 30 minutes of the cluster under load: RSS of each process (CLUSTER_VISITORS sets the load)
	$(BIN)/python bench/cluster/run.py --soak 30 --visitors $(or $(CLUSTER_VISITORS),8)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build/compiled

.PHONY: help install install-test serve test test-compiled compile test-unit lint format clean widget widget-test bench-widget bench bench-peers bench-billing train train-smoke \
	dashboard dashboard-test dashboard-client-check lighthouse \
	bench-smoke redteam redteam-smoke soak bench-bots bench-bots-smoke usage-exact bench-analytics \
	deploy-tools deploy-check image image-smoke cluster cluster-smoke cluster-soak fault-blobs

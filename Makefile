# rpaml: two commands set everything up on a fresh machine.
#   make demo   run the whole loop on the embedded default (SQLite, local processes)
#   make test   run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := chromium chromium-driver xvfb xclip xdotool
export SE_OFFLINE := true
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test lint format docs system venv clean bench bench-compare bench-pipeline bench-robots bench-sources bench-drift

# Debian packages the robots need; installed only when missing and only as root.
system:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing (run as root, or install them with apt-get)" >&2; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: system venv
	$(BIN)/rpaml demo

# Two passes: the bulk in parallel (one worker per core, a test module's tests on one
# worker), then the tests that start whole deployments (portal, service, workers,
# browsers) one at a time, so they never compete for the two cores.
test: system venv
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not serial" tests
	$(BIN)/python -m pytest -m serial tests

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/robocop check robots tests/robot

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/robocop format robots tests/robot

docs: venv
	$(BIN)/rpaml docs --output docs/libdoc

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# Speed is measured here, never in tests: each script prints its figures and writes
# them under bench/results/.
bench: venv
	$(BIN)/python bench/serving/bench.py

# Also installs MLflow and BentoML in their own virtualenvs (bench/serving/.venvs/) and
# measures them on the same model and payloads in the same run.
bench-compare: venv
	bench/serving/compare.sh

# The staging pipeline: ingest, process and deliver 200,000 and a million synthetic claims
# on SQLite, beside a plain polars baseline in the same run (peak memory compared across
# the sizes), then on the machine's PostgreSQL, then the floor of the store's writes alone
# (about 15 minutes in all; bench/pipeline.py --records N for a quicker look).
bench-pipeline: venv
	$(BIN)/python bench/pipeline.py --records 200000 1000000
	$(BIN)/python bench/pipeline.py --records 200000 1000000 \
		--store-url "$${RPAML_BENCH_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
	$(BIN)/python bench/store_floor.py --records 200000

# Monitoring: a million scored rows counted into a model's reference bins and judged
# (per-feature and score PSI, KS shift); the goal is at most 10 s.
bench-drift: venv
	$(BIN)/python bench/drift.py --rows 1000000

# The robots against the sandbox: list pages, detail pages, bulk and single decisions,
# desktop lookups, and whether pabot helps on this machine.
bench-robots: venv
	$(BIN)/python bench/robots.py

# Stream sources (the machine's Redis, RabbitMQ and NATS JetStream) and an object store
# (moto's S3 server on loopback): messages/s, publish-to-commit latency, objects/s.
bench-sources: venv
	$(BIN)/python bench/sources.py --messages 20000 --rate 6000 --objects 2000

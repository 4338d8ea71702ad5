# Supplier Portal — `make run` starts everything with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export TEST_DATABASE_URL ?= postgresql://127.0.0.1/test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
T ?= tests

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-17s %s\n", $$1, $$2}'
	@echo "  make test T=tests/accounts   run a subset"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

tests/oidc/node_modules/.installed: tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed ## Create .venv and install the portal

install-dev: $(VENV)/.installed-dev tests/oidc/node_modules/.installed ## Install with the dev extras and the test OpenID provider
	@scripts/ensure-chromium

run: install ## Migrate, start the mock ERP (:5001), seed the demo data against it, then web (:5000) and worker
	@mkdir -p instance
	$(FLASK) db upgrade
	@exec $(BIN)/python -m scripts.run_all

test: install-dev ## Start PostgreSQL/Redis if needed and run the whole suite
	@scripts/ensure-services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	$(BIN)/pytest $(T)

lint: install-dev ## ruff check, ruff format --check, mypy on the whole app package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

migrations-check: install ## One Alembic head; up, down, up again on empty PostgreSQL and SQLite; no model drift
	@scripts/ensure-services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	$(BIN)/python -m scripts.check_migrations

screenshots: install-dev ## Run the browser journeys and keep their screenshots for the README's tour
	@scripts/ensure-services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	JOURNEY_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e/test_journeys.py

bench: install-dev ## Print the pipeline's and intake's speed beside same-run baselines (minutes; own DB and Redis db)
	@scripts/ensure-services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/intake_bench.py

format: install-dev ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migration: install ## Autogenerate a migration: make migration m="what changed"
	$(FLASK) db migrate -m "$(m)"

clean: ## Remove the virtualenv, caches and local SQLite files
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache instance/*.sqlite tests/oidc/node_modules

.PHONY: help install install-dev run test lint migrations-check screenshots bench format migration clean

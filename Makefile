# Two commands do all the set-up on a fresh machine:
#   make run    installs the portal (not the test tools) into .venv, migrates the SQLite database under instance/,
#               loads demo data, and serves the portal with the embedded development OpenID provider; no
#               PostgreSQL, Redis or browser needed
#   make test   installs the test tools, installs from Debian's packages and starts what the suite needs and is
#               missing (PostgreSQL with a test role, Redis, Chromium: tests/support/services.py), runs the
#               linters, then the whole suite on SQLite and again on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
TEST_POSTGRES_DB ?= portal_test
PYTEST_ARGS ?=
export FLASK_APP := wsgi

.PHONY: run test services test-sqlite test-postgres lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# What the portal needs to run (the development provider included), and, separately, the test tools.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/flask db upgrade
	$(BIN)/flask billing demo --if-empty
	$(BIN)/flask dev run --host 127.0.0.1 --port $(PORT)

# Installs and starts what is missing, prints the variables; TEST_POSTGRES_URL / TEST_REDIS_URL point elsewhere.
services:
	@$(PYTHON) tests/support/services.py up

test: $(VENV)/.installed-test
	$(PYTHON) tests/support/services.py run -- $(MAKE) --no-print-directory lint test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

# TEST_POSTGRES_URL: a role that may create databases (make test sets it); the suite runs in a fresh database.
test-postgres: $(VENV)/.installed-test
	@test -n "$$TEST_POSTGRES_URL" || { echo "TEST_POSTGRES_URL is not set: run make test, or eval \"\$$(make services)\""; exit 2; }
	$(BIN)/python tests/support/fresh_database.py "$$TEST_POSTGRES_URL" "$(TEST_POSTGRES_DB)"
	TEST_DATABASE_URL="$$(dirname "$$TEST_POSTGRES_URL")/$(TEST_POSTGRES_DB)" $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy

# Two commands do all the set-up on a fresh machine:
#   make run    installs into .venv, migrates the SQLite database under instance/, loads demo data,
#               and serves the portal with the embedded development OpenID provider
#   make test   installs what the tests need (Chromium from Debian if missing) and runs the whole
#               suite on SQLite and again on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
TEST_POSTGRES_DB ?= portal_test
PYTEST_ARGS ?=
export FLASK_APP := wsgi

.PHONY: run test test-sqlite test-postgres chromium lint

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask billing demo --if-empty
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

chromium:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Chromium from Debian's packages for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

test: $(VENV)/.installed chromium
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	$(BIN)/python tests/support/fresh_database.py "$(TEST_POSTGRES_URL)" "$(TEST_POSTGRES_DB)"
	TEST_DATABASE_URL="$(dir $(TEST_POSTGRES_URL))$(TEST_POSTGRES_DB)" $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check app tests
	$(BIN)/mypy

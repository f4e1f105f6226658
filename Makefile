# Two commands do all the set-up on a fresh machine:
#   make run    installs into .venv, migrates the SQLite database under instance/, loads demo data,
#               and serves the portal with the embedded development OpenID provider
#   make test   installs what the tests need (Chromium from Debian, a local Redis, if missing) and runs the whole
#               suite on SQLite and again on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
TEST_POSTGRES_DB ?= portal_test
PYTEST_ARGS ?=
export FLASK_APP := wsgi

TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export TEST_REDIS_URL

.PHONY: run test test-sqlite test-postgres chromium redis lint

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

# The cache tests need Redis: start a local one (from Debian's packages if need be) when none answers.
redis: $(VENV)/.installed
	@$(BIN)/python -c "import redis; redis.Redis.from_url('$(TEST_REDIS_URL)', socket_timeout=2).ping()" 2>/dev/null || { \
	  echo "No Redis at $(TEST_REDIS_URL): starting one for the cache tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  command -v redis-server >/dev/null || { $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; sleep 1; }

test: $(VENV)/.installed chromium redis
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

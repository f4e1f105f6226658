# Two commands do all the set-up on a fresh machine:
#   make run    installs the portal (not the test tools) into .venv, migrates the SQLite database under instance/,
#               loads demo data, and serves the portal with the embedded development OpenID provider; no
#               PostgreSQL, Redis or browser needed
#   make test   installs the test tools, installs from Debian's packages and starts what the suite needs and is
#               missing (PostgreSQL with a test role, Redis, Chromium, nginx: tests/support/services.py; Keycloak
#               26.7.3 from Maven Central, Mailpit and stripe-mock from the Go module proxy: keycloak-deps; the
#               pinned npm packages that build the USWDS subset: assets-deps), runs the linters, then the whole
#               suite on SQLite and again on PostgreSQL
# The next step up, a real Keycloak 26.7.3 without containers (two terminals):
#   make keycloak       fetches Keycloak (Maven Central) and Mailpit (Go module proxy) once, imports the realm,
#                       adds the development users and runs both until Ctrl-C
#   make run-keycloak   serves the portal against it on http://localhost:$(PORT)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The portal's port; the development OpenID provider's and payment processor's are DEV_OIDC_PORT (5001) and
# DEV_PAYMENTS_PORT (5002), passed on to `flask dev run` when given: make run PORT=5010 DEV_OIDC_PORT=5011.
# A port another program holds stops `make run` with the variable to change.
PORT ?= 5000
DEV_PORTS = $(if $(DEV_OIDC_PORT),DEV_OIDC_PORT=$(DEV_OIDC_PORT)) $(if $(DEV_PAYMENTS_PORT),DEV_PAYMENTS_PORT=$(DEV_PAYMENTS_PORT))
TEST_POSTGRES_DB ?= portal_test
PYTEST_ARGS ?=
# pytest-xdist workers for test-sqlite and test-postgres (0: one process); the Keycloak tests share one worker
# (tests/support/workers.py)
PYTEST_WORKERS ?= 2
PYTEST_XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))
export FLASK_APP := wsgi

.PHONY: test-any-day run test services test-sqlite test-postgres lint keycloak-deps assets-deps keycloak run-keycloak assets

KEYCLOAK_PORT ?= 8080
KEYCLOAK_CLIENT_SECRET ?= local-portal-secret

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
	$(DEV_PORTS) $(BIN)/flask dev run --host 127.0.0.1 --port $(PORT)

# Installs and starts what is missing, prints the variables; TEST_POSTGRES_URL / TEST_REDIS_URL point elsewhere.
services:
	@$(PYTHON) tests/support/services.py up

test: $(VENV)/.installed-test keycloak-deps assets-deps
	$(PYTHON) tests/support/services.py run -- $(MAKE) --no-print-directory lint test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# TEST_POSTGRES_URL: a role that may create databases (make test sets it); the suite runs in a fresh database.
# The Keycloak journeys run once, in the SQLite pass: what they prove does not depend on the portal's database.
test-postgres: $(VENV)/.installed-test
	@test -n "$$TEST_POSTGRES_URL" || { echo "TEST_POSTGRES_URL is not set: run make test, or eval \"\$$(make services)\""; exit 2; }
	$(BIN)/python tests/support/fresh_database.py "$$TEST_POSTGRES_URL" "$(TEST_POSTGRES_DB)"
	TEST_DATABASE_URL="$$(dirname "$$TEST_POSTGRES_URL")/$(TEST_POSTGRES_DB)" $(BIN)/pytest -m "not keycloak" $(PYTEST_XDIST) $(PYTEST_ARGS)

# The suite with the machine's clock moved (libfaketime, from Debian when missing): nothing may depend on today.
#   eval "$(make services)"; make test-any-day DAY="2031-02-28 23:30:00"
DAY ?= 2031-02-28 23:30:00
test-any-day: $(VENV)/.installed-test
	@command -v faketime >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq faketime; }
	@# One offset for every process: "@DAY" would restart the clock at DAY in each new process (gunicorn, Keycloak),
	@# so that they would disagree with the tests about the time of day.
	offset=$$(( $$(date -d "$(DAY)" +%s) - $$(date +%s) )); \
	  case $$offset in -*) ;; *) offset=+$$offset ;; esac; \
	  echo "The machine's clock moved by $$offset s, to $(DAY) (libfaketime)"; \
	  faketime -f "$$offset" $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# Java 17 and Maven from Debian when missing (Go comes with the machine image); then the cached downloads:
# Keycloak, Mailpit (for the Keycloak tests) and stripe-mock (for tests/payments/test_stripe.py), each pinned.
keycloak-deps: $(VENV)/.installed-run
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  echo "Installing Java 17 and Maven from Debian's packages for Keycloak"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless maven; }
	@command -v go >/dev/null || { echo "Go is needed to build Mailpit and stripe-mock (go install)"; exit 1; }
	$(BIN)/python -m tests.support.keycloak deps

keycloak: keycloak-deps
	$(BIN)/python -m tests.support.keycloak up --http-port $(KEYCLOAK_PORT) \
	  --portal-url http://localhost:$(PORT) --client-secret $(KEYCLOAK_CLIENT_SECRET)

run-keycloak: $(VENV)/.installed-run
	OIDC_ISSUER=http://localhost:$(KEYCLOAK_PORT)/realms/citizens OIDC_CLIENT_SECRET=$(KEYCLOAK_CLIENT_SECRET) \
	  PORTAL_BASE_URL=http://localhost:$(PORT) SOCIAL_PROVIDERS=google,microsoft,facebook \
	  DATABASE_URL=sqlite:///$(CURDIR)/instance/portal-keycloak.sqlite \
	  sh -c '$(BIN)/flask db upgrade && $(BIN)/flask billing demo --if-empty && \
	    $(BIN)/flask run --host localhost --port $(PORT)'

# The npm packages of assets/package-lock.json, for tests/test_assets.py's rebuild of the committed USWDS subset
# (in CI a missing install fails that test). Installed again only when the lock file is newer than the install.
ASSETS_INSTALLED := assets/node_modules/.installed
assets-deps: $(ASSETS_INSTALLED)

$(ASSETS_INSTALLED): assets/package-lock.json
	@command -v npm >/dev/null || { echo "Node 20 and npm are needed to install assets/node_modules (npm ci)"; exit 1; }
	cd assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

# Rebuilds the USWDS subset in app/static/uswds/ from assets/src (needs Node 20) and recompresses app/static.
# The output is committed, so `make run` needs no Node. After editing only app/static/css/portal.css:
#   $(BIN)/python -m app.web.static_files compress
assets: $(VENV)/.installed-test
	PYTHON=$(BIN)/python assets/build

# TierHub: `make run` serves the site on the embedded default; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3 2>/dev/null)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
DEMO_CUSTOMERS ?= 2000
export TIERHUB_VAR_DIR ?= $(CURDIR)/var

RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.txt | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
SYSTEM_PACKAGES := postgresql redis-server chromium gettext

.PHONY: help run test venv dev-venv system-packages lint typecheck translations test-postgres \
	test-sqlite migrate worker clean

help:
	@echo "make run   - install into $(VENV), migrate, seed a demo with a year of history, serve http://$(HOST):$(PORT)/"
	@echo "make test  - install what the suite needs, then lint, typecheck, translations, and the"
	@echo "             suite on PostgreSQL (with Redis, Celery, Chromium) and again on SQLite"
	@echo "make lint  - ruff check + format check"
	@echo "make typecheck    - mypy (configured in pyproject.toml)"
	@echo "make translations - the committed .mo files match their .po sources"

$(RUNTIME_STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "TierHub needs Python 3.12+, found " + sys.version' 
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.runtime-*; touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.dev-*; touch $@

venv: $(RUNTIME_STAMP)
dev-venv: $(DEV_STAMP)

migrate: venv
	@mkdir -p $(TIERHUB_VAR_DIR)
	$(PY) manage.py migrate --noinput -v 0

# Serve the site and the periodic-job runner (a Celery worker with embedded beat on the
# filesystem broker: no server to install). Ctrl-C stops both.
run: migrate
	$(PY) manage.py seed_demo --if-empty --customers $(DEMO_CUSTOMERS)
	$(PY) manage.py run_grading --if-missing
	@mkdir -p $(TIERHUB_VAR_DIR)/celery/broker $(TIERHUB_VAR_DIR)/celery/processed
	@$(PY) -m celery -A tierhub worker -B --pool=solo --loglevel=warning \
		--schedule $(TIERHUB_VAR_DIR)/celery/beat-schedule & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo; echo "TierHub (every demo password: tierhub-demo)"; \
	echo "  admin (Operations):          http://$(HOST):$(PORT)/admin/    login: ops"; \
	echo "  account managers' queue:     http://$(HOST):$(PORT)/manager/  login: manager"; \
	echo "  customer portal:             http://$(HOST):$(PORT)/portal/   login: customer"; \
	echo "  staff log in at http://$(HOST):$(PORT)/ and land on the queue or the dashboard"; \
	echo "  development e-mail (set-password links too): $(TIERHUB_VAR_DIR)/outbox/*.eml"; \
	echo "  API schema:                  http://$(HOST):$(PORT)/api/schema/"; echo; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

worker: venv
	$(PY) -m celery -A tierhub worker -B --pool=solo --loglevel=info

# Installs PostgreSQL, Redis and Chromium with apt-get when missing (root or sudo), then
# runs the whole suite; tests/harness.py starts throwaway servers on loopback and stops them.
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The fast checks first (a lint error fails in seconds), then the suite twice: on PostgreSQL
# with the real services, and on SQLite (the embedded default of `make run`; services tests
# skip, browser tests are left to the first run) in two xdist workers.
test: system-packages dev-venv lint typecheck translations
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(MAKE) --no-print-directory test-postgres test-sqlite

test-postgres: dev-venv
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-sqlite: dev-venv
	TIERHUB_TEST_SERVICES=off $(PY) -m pytest -q -n 2 -m "not browser" $(PYTEST_ARGS)

lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: dev-venv
	$(VENV)/bin/mypy

translations: dev-venv
	$(PY) .ci/check_translations.py

clean:
	rm -rf $(VENV) var

# Quick start: `make run` (demo at http://127.0.0.1:8000), `make test` (whole suite).
SHELL := /bin/bash
VENV ?= .venv
# Django 6 needs Python >= 3.12: take the first interpreter on this machine that is new enough.
PYTHON ?= $(shell for p in python3.12 python3.13 python3 $$HOME/.pyenv/versions/3.12*/bin/python3 $$HOME/.pyenv/versions/3.13*/bin/python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$p || echo $$p; } && break; done)
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test bench soak install services browsers lint clean

# Two install levels: the demo (`make run`) installs only what it runs;
# the tests add pytest, browsers' driver and the other test tools.
$(PY):
	@test -n "$(PYTHON)" || { echo "Python >= 3.12 is required (Django 6); install python3.12 and retry" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: requirements.txt requirements-demo.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-demo.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-demo.txt requirements-dev.txt cli/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

services:
	bash deploy/dev/ensure-services.sh

run: $(VENV)/.demo-installed
	bash deploy/dev/run.sh

test: install services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m pytest --durations=25 $(PYTEST_ARGS)

# Style and architecture: ruff, and import-linter's contracts (.importlinter).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: install services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m kubesim.bench
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/bench_onboarding.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/bench_quota.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) deploy/dev/bench_usage.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) deploy/dev/bench_violations.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) deploy/dev/bench_audit.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/bench_ops.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/bench_cli.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/bench_fleet.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) deploy/dev/bench_pages.py

# The fault soak (not part of `make test`; a 20-namespace version is): SOAK_NAMESPACES (default 200), SOAK_KILLS (2).
soak: install services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) deploy/dev/soak.py

clean:
	rm -rf var .pytest_cache

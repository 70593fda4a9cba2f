# Beils: `make run` sets up and runs everything on a fresh machine; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
CLIENTS ?= 300
# Where `make run` serves the admin (honcho gives the first process, web, this port as $$PORT).
PORT ?= 8000
# MariaDB's driver compiles against its client headers: installed only when the database is MariaDB.
MYSQL_REQS := $(if $(filter mysql%,$(DATABASE_URL)),requirements-mysql.txt,)

.PHONY: run setup install install-dev test check lint bench bench-scale screens clean

$(PY):
	@test -n "$(PYTHON)" || { echo "Beils needs Python 3.11 or newer (python3.11+ on PATH)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt requirements-mysql.txt
	$(PY) -m pip install --quiet -r requirements.txt $(if $(MYSQL_REQS),-r $(MYSQL_REQS))
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Set up (venv, dependencies, database, demo data once, demo admin) and serve the admin at
## http://localhost:8000/admin/ with a Celery worker and beat. Ctrl-C stops all of it.
setup: install
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed --clients $(CLIENTS)
	$(PY) manage.py demo_admin

run: setup
	@# Ctrl-C reaches make, this shell and honcho together: honcho stops the processes and exits 130,
	@# which is no failure, and this shell waits for it (the trap) instead of dying mid-way, so that
	@# make stops without an error line.
	trap : INT; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start --port $(PORT) || [ $$? -eq 130 ]

## The whole test suite (against MariaDB and Redis when DATABASE_URL / CELERY_BROKER_URL say so).
test: install-dev
	$(PY) -m pytest tests --create-db $(PYTEST_ARGS)

check: install-dev
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check
	$(VENV)/bin/ruff check .

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Benchmarks against MariaDB on 127.0.0.1 (results: docs/benchmarks.md).
bench: install-dev
	$(PY) bench/seed_bench.py
	$(PY) bench/backup_bench.py
	$(PY) bench/export_bench.py
	$(PY) bench/import_bench.py

## Every screen and data operation at 100 000 clients, beside its budget (issue 17; seeds once).
bench-scale: install-dev
	$(PY) bench/scale.py $(BENCH_ARGS)

## The screenshots in docs/screens.md, taken by the browser tests (Debian's chromium and chromium-driver).
screens: install-dev
	$(PY) -m pytest tests/browser -q -p no:cacheprovider
	@mkdir -p docs/screens
	@for name in $$(grep -o 'screens/[a-z0-9-]*\.png' docs/screens.md | sed 's|screens/||' | sort -u); do \
		cp test-artifacts/$$name docs/screens/$$name; done

clean:
	rm -rf $(VENV) var/celery var/test-media var/test-backups

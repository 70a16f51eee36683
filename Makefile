# The two Quick start commands: `make run` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest install catalogs compile-catalogs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP) compile-catalogs
	$(PY) run.py serve

test: $(STAMP) compile-catalogs lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

SOURCES := bot conversations lending backoffice storage locales run.py

# Re-extract message ids into the template and merge them into both catalogs (translators
# then fill in zh_Hans); the .mo files are build output, compiled on every run and test.
catalogs: $(STAMP)
	$(VENV)/bin/pybabel extract -F locales/babel.cfg -k N_ -k _ -o locales/messages.pot \
		--no-location --sort-output --omit-header --no-wrap $(SOURCES)
	$(VENV)/bin/pybabel update -i locales/messages.pot -d locales -D messages \
		--no-fuzzy-matching --ignore-obsolete --no-wrap
	$(MAKE) compile-catalogs

compile-catalogs: $(STAMP)
	$(VENV)/bin/pybabel compile -d locales -D messages --statistics

bench: $(STAMP)
	$(PY) bench/vault.py
	$(PY) bench/chat.py
	$(PY) bench/backoffice.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

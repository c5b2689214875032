# PyTorch Core — every target fails loudly: bash strict mode, and each step's exit code counts.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# nbgrader shells out to `alembic`: the venv's bin folder must come first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# JupyterLab refuses to run as root (containers, CI) unless told so explicitly.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
LESSONS := $(notdir $(wildcard solutions/[0-9][0-9]_*))

.PHONY: help setup data lab test test-fast release check-release grade feedback export bench clean distclean

help: ## show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(INSTALLED) ## create .venv and install everything (idempotent)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements.txt into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r requirements.txt
	$(PY) -m pip install -qq --no-deps -e .
	$(PY) -c "import torch, torchvision, utils, coursekit; print('installed: torch', torch.__version__, '· torchvision', torchvision.__version__)"
	touch $@

data: setup ## make MNIST available in data/ (from the COURSE_DATA_MIRROR folder, else download)
	$(PY) -c "import utils; print('MNIST ready in', utils.prepare_mnist())"

lab: setup ## open the course in JupyterLab on localhost
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(CURDIR) \
		--LabApp.default_url=/lab/tree/notebooks/00_start_here/00_start_here.ipynb $(LAB_ARGS)

# Two pytest workers share two cores: one thread per kernel, or the kernels fight over them.
test: setup data ## lint, utils tests, course checks, nbval on every solution, grading end to end
	$(PY) -m ruff check .
	$(PY) -m ruff format --check utils coursekit tests nbgrader_config.py
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env --durations=12 \
		tests solutions

test-fast: setup ## lint + the checks that execute no notebook (seconds)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check utils coursekit tests nbgrader_config.py
	$(PY) -m pytest -m "not slow" tests

release: setup ## regenerate the student copies in notebooks/ from solutions/
	$(foreach lesson,$(LESSONS),$(PY) -m nbgrader generate_assignment $(lesson) --force;)

check-release: setup ## notebooks/ equals a fresh release; no answers leak into it
	$(PY) -m pytest -q tests/test_course.py -k "release or leak or stubs"

# GRADE_ARGS: -j N (workers, default all cores), --force (regrade unchanged), --unsafe-no-sandbox.
grade: setup data ## autograde submitted/ in a sandbox, in parallel; one status per submission
	$(PY) -m coursekit grade $(GRADE_ARGS)

feedback: setup ## feedback HTML per graded submission (no hidden tests, no solutions)
	$(PY) -m coursekit feedback

export: setup ## grades.csv: the status, score and reason recorded for every submission
	$(PY) -m coursekit grade --export grades.csv --no-autograde

bench: setup data ## run every solution notebook and the data-pipeline benchmark; print a table
	$(PY) -m coursekit bench --json build/bench.json

clean: ## remove generated files (keeps .venv and data/)
	rm -rf build autograded feedback .pytest_cache .ruff_cache grades.csv
	find . -name __pycache__ -prune -exec rm -rf {} + -o -name .ipynb_checkpoints -prune -exec rm -rf {} +
	find solutions notebooks -name models -type d -prune -exec rm -rf {} +

distclean: clean ## also remove .venv, data/ and the gradebook
	rm -rf $(VENV) gradebook.db
	find data -mindepth 1 ! -name README.md -exec rm -rf {} +

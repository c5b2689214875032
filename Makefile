# PyTorch Core — every target fails loudly: bash strict mode, and each step's exit code counts.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

#: PYTHON=python3    interpreter that creates .venv: Python 3.10 to 3.13 (e.g. PYTHON=python3.12)
PYTHON ?= python3
#: TORCH=cuda        torch build: cuda (PyPI's default, ~6 GB venv), cpu (CPU-only, ~1.5 GB est.), auto
TORCH ?= cuda
#: PORT=8888         port of `make lab` (JupyterLab takes the next free one if it is busy)
PORT ?= 8888
#: LAB_ARGS=         extra `jupyter lab` options, e.g. LAB_ARGS=--no-browser
LAB_ARGS ?=
#: VENV=.venv        where the virtual environment lives
VENV ?= .venv
#: LESSON=           lessons for the class commands, e.g. LESSON="01 02" (default: every graded one)
LESSON ?=
#: DUE=              due date of make release-class, e.g. DUE="2025-12-01 17:00" (the server's time)
DUE ?=
#: INSTRUCTOR=       the instructor's account, for sudo make classroom-setup
INSTRUCTOR ?=
PY := $(VENV)/bin/python
# What .venv was built from (Python version, torch build, hash of the requirements): a change of
# any of them reinstalls, a change of Python or torch build recreates the venv (coursekit/venv_state.py).
WANTED := $(VENV)/.wanted
INSTALLED := $(VENV)/.installed
# nbgrader shells out to `alembic`: the venv's bin folder must come first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# JupyterLab refuses to run as root (containers, CI) unless told so explicitly.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LESSONS := $(notdir $(wildcard solutions/[0-9][0-9]_*))
# JupyterHub's proxy (npm), installed by classroom-deps into the venv (git-ignored, rebuilt with it).
NODE_PREFIX := $(VENV)/node
CHP_VERSION := 5.3.0
CHP := $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy

# TORCH=cuda is the default on purpose, not a guess: every machine (CI reaches only the package
# registries) installs the same build from the default index; it also runs on a CPU. TORCH=cpu
# takes the CPU-only wheels from PyTorch's own index; TORCH=auto picks cpu unless `nvidia-smi` works.
ifeq ($(filter $(TORCH),auto cpu cuda),)
$(error TORCH=$(TORCH): use cuda, cpu or auto / TORCH chỉ nhận cuda, cpu hoặc auto)
endif
ifeq ($(TORCH),auto)
TORCH_BUILD := $(shell nvidia-smi >/dev/null 2>&1 && echo cuda || echo cpu)
else
TORCH_BUILD := $(TORCH)
endif
TORCH_INDEX_cpu := --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
TORCH_INDEX_cuda :=
TORCH_PINS = $(shell grep -E '^torch(vision)?==' requirements.txt)

.PHONY: help check-python setup data lab test test-fast release check-release grade feedback export bench bench-grading clean distclean FORCE
.PHONY: classroom-deps classroom-setup hub release-class collect grade-class return-feedback class-grades

help: ## show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "Variables (e.g. make lab PYTHON=python3.12 TORCH=cpu PORT=9999):"
	@sed -n 's/^#: /  /p' $(MAKEFILE_LIST)

check-python: ## check that PYTHON is Python 3.10 to 3.13, before any venv is made
	@found="$$($(PYTHON) --version 2>&1 || true)"; \
	case "$$found" in "Python 3.1"[0-3]|"Python 3.1"[0-3].*) exit 0 ;; esac; \
	others="$$(compgen -c python3.1 | grep -xE 'python3\.1[0-3]' | sort -uV | xargs || true)"; \
	echo "PYTHON=$(PYTHON) reports \"$$found\", but the course needs Python 3.10 to 3.13." >&2; \
	echo "  Choose one with PYTHON=..., e.g.: make lab PYTHON=python3.12   (found here: $${others:-none})" >&2; \
	echo "PYTHON=$(PYTHON) cho ra \"$$found\", nhưng khoá học cần Python 3.10 đến 3.13." >&2; \
	echo "  Hãy chọn trình thông dịch khác bằng PYTHON=..., ví dụ: make lab PYTHON=python3.12" >&2; \
	exit 1

setup: $(INSTALLED) ## create .venv and install everything (again when Python, TORCH or requirements change)

$(WANTED): FORCE | check-python
	@$(PYTHON) -m coursekit.venv_state --venv $(VENV) --torch $(TORCH_BUILD) --wanted $@ requirements.txt pyproject.toml

$(INSTALLED): $(WANTED)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV): torch ($(TORCH_BUILD) build), then requirements.txt (first time: a few minutes)"
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq $(TORCH_INDEX_$(TORCH_BUILD)) $(TORCH_PINS)
	$(PY) -m pip install -qq -r requirements.txt
	$(PY) -m pip install -qq --no-deps -e .
	$(PY) -c "import torch, torchvision, utils, coursekit; print('installed: torch', torch.__version__, '· torchvision', torchvision.__version__)"
	cp $(WANTED) $@

FORCE:

data: setup ## make MNIST available in data/ (from the COURSE_DATA_MIRROR folder, else download)
	$(PY) -c "import utils; print('MNIST ready in', utils.prepare_mnist())"

# classroom/jupyter/student: nbgrader's Assignments panel on a personal exchange, no Formgrader.
lab: setup ## copy new lessons into workspace/ (never overwriting yours), open it in JupyterLab
	$(PY) -m coursekit workspace
	JUPYTER_CONFIG_PATH="$(CURDIR)/classroom/jupyter/student$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=$(CURDIR)/workspace \
		--LabApp.default_url=/lab/tree/00_start_here/00_start_here.ipynb $(ROOT_FLAG) $(LAB_ARGS)

# Two pytest workers share two cores: one thread per kernel, or the kernels fight over them.
test: setup data classroom-deps ## lint, utils tests, course checks, nbval on every solution, grading and a class end to end
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

bench-grading: setup data ## grading throughput for lessons 01 and 06, serial vs parallel; class-of-200 time
	$(PY) -m coursekit bench-grading --json build/bench-grading.json

# A class through nbgrader's exchange (coursekit/classroom.py; README: "A class on JupyterHub").
classroom-deps: setup ## JupyterHub's proxy (configurable-http-proxy, npm) into .venv/node/; skipped without npm
	@if [ -x $(CHP) ]; then exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: JupyterHub's proxy is not installed and the classroom test will be skipped (apt-get install npm)"; \
		exit 0; \
	fi; \
	echo "installing configurable-http-proxy $(CHP_VERSION) into $(NODE_PREFIX)/"; \
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)

# The two root targets never run `setup`: under sudo another python3 would rebuild the venv.
classroom-setup: ## root, once per server: groups, the class exchange, course closed to students (INSTRUCTOR=)
	@test -n "$(INSTRUCTOR)" || { echo "usage: sudo make classroom-setup INSTRUCTOR=<account>" >&2; exit 2; }
	@test -x $(PY) || { echo "run make setup first, as the instructor" >&2; exit 2; }
	$(PY) -m coursekit classroom setup --instructor $(INSTRUCTOR)

hub: ## root: run the class's JupyterHub (classroom/jupyterhub_config.py) in the foreground
	@test -x $(PY) || { echo "run make setup classroom-deps first, as the instructor" >&2; exit 2; }
	$(PY) -m jupyterhub -f $(CURDIR)/classroom/jupyterhub_config.py

release-class: setup ## release lessons to the class exchange (LESSON="01 02", DUE="2025-12-01 17:00")
	$(PY) -m coursekit classroom release $(LESSON) $(if $(DUE),--due "$(DUE)")

collect: setup ## each student's latest own submission into submitted/, with its time; late ones marked
	$(PY) -m coursekit classroom collect $(LESSON)

grade-class: setup data ## grade collected submissions with the trusted grader, as the instructor (-j, --force: GRADE_ARGS)
	$(PY) -m coursekit classroom grade $(LESSON) $(GRADE_ARGS)

return-feedback: setup ## feedback pages (no hidden tests) released through the exchange, each to its student
	$(PY) -m coursekit classroom return-feedback $(LESSON)

class-grades: setup ## class-grades.csv for an LMS: a row per student, a column per lesson, a status
	$(PY) -m coursekit classroom export $(LESSON) --output class-grades.csv

clean: ## remove generated files (keeps .venv, data/ and workspace/)
	rm -rf build autograded feedback .pytest_cache .ruff_cache grades.csv class-grades.csv
	find . -path ./workspace -prune -o -name __pycache__ -prune -exec rm -rf {} + -o -name .ipynb_checkpoints -prune -exec rm -rf {} +
	find solutions notebooks -name models -type d -prune -exec rm -rf {} +

distclean: clean ## also remove .venv, data/ and the gradebook (never workspace/)
	rm -rf $(VENV) gradebook.db
	find data -mindepth 1 ! -name README.md -exec rm -rf {} +

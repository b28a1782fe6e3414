# The course's commands. Learners need two: `make lab` and `make test`.
# Both create .venv on first use and reinstall only when requirements.txt or
# pyproject.toml change (the stamp file .venv/.installed records the last install).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := python3
JUPYTER_CONFIG := $(VENV)/.jupyter-configured
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)  # Jupyter refuses root without it (containers)
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one test file or notebook per process at a time, so that a
# notebook's cells share one kernel and a module's fixtures are built once. TEST_JOBS=1:
# everything in this one process, in order.
TEST_JOBS ?= 2
XDIST := $(if $(filter-out 0 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
LESSONS := $(wildcard notebooks/[0-9][0-9]_*.py)
SOLUTIONS := $(wildcard solutions/[0-9][0-9]_*.py)

# `make test-colab`: the same tests on Google Colab's versions (requirements-colab.txt), in
# a second environment built with Python 3.13 (Colab's). COLAB_PYTHON picks the interpreter.
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed
COLAB_PYTHON ?= $(shell for p in python3.13 $$(ls -d $(HOME)/.pyenv/versions/3.13*/bin/python 2>/dev/null | sort -rV); do \
  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
COLAB_DESELECT := --deselect tests/test_browser_lab.py --deselect tests/test_browser_pyramid.py  # Colab has its own front end, not JupyterLab

.PHONY: lab test test-unit test-notebooks test-colab notebooks exercises data bench setup clean help

help:
	@echo "For learners:"
	@echo "  make lab         set up .venv, then open JupyterLab on the course"
	@echo "  make test        set up .venv, then run every test (as CI does)"
	@echo "  make test-colab  the unit tests and notebooks on Colab's versions (Python 3.13, .venv-colab)"
	@echo "For instructors:"
	@echo "  make grade SUBMISSIONS=dir   grade dir/<student>/<NN_slug>.ipynb into grades.csv, with"
	@echo "                   feedback and a summary (GRADEBOOK=file.csv, GRADE_ARGS='--jobs 4'; docs/GRADING.md)"
	@echo "For maintainers (these rewrite files in the repository):"
	@echo "  make notebooks   execute notebooks/ and solutions/ and store their outputs"
	@echo "  make exercises   write exercises/ from solutions/ (refuses to overwrite a learner's"
	@echo "                   edited exercise notebook; FORCE=1 overwrites)"
	@echo "  make data        regenerate the small fixtures in data/"
	@echo "  make bench       run the benchmarks behind docs/RESULTS.md"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else "The course needs Python 3.11, 3.12 or 3.13; this is %d.%d. Run: make PYTHON=python3.12 ..." % v)'
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	@touch $(STAMP)

# One kernel, the .venv's own, under the standard name "python3" that every notebook
# names (a venv's Jupyter prefers its own kernelspecs over the user's). The course's
# JupyterLab settings: no "get notified about Jupyter news?" pop-up, no update check.
$(JUPYTER_CONFIG): Makefile $(STAMP)
	rm -rf $(VENV)/share/jupyter/kernels/fcn-lessons
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 (ipykernel)"
	@mkdir -p $(dir $(LAB_SETTINGS))
	@printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_SETTINGS)
	@touch $(JUPYTER_CONFIG)

setup: $(STAMP) $(JUPYTER_CONFIG)

lab: setup
	@echo "Starting JupyterLab on the course; open the http://127.0.0.1 URL it prints below (Ctrl-C stops it)."
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.ip=127.0.0.1 $(ROOT_FLAG) $(LAB_ARGS)

test: setup
	$(MAKE) --no-print-directory test-unit test-notebooks

test-unit: setup
	FCN_LESSONS_QUICK=1 $(BIN)/python -m pytest tests $(XDIST) $(PYTEST_ARGS)

test-notebooks: setup
	FCN_LESSONS_QUICK=1 $(BIN)/python -m pytest $(NBVAL) $(XDIST) notebooks solutions $(PYTEST_ARGS)

$(COLAB_STAMP): requirements-colab.txt pyproject.toml
	@test -n "$(COLAB_PYTHON)" && "$(COLAB_PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || { \
	  echo "make test-colab needs Python 3.13 (Colab's version) and found none (COLAB_PYTHON='$(COLAB_PYTHON)')."; \
	  echo "Install one (for instance 'pyenv install 3.13' or your system's python3.13 package), then run"; \
	  echo "'make test-colab COLAB_PYTHON=/path/to/python3.13'."; exit 1; }
	rm -rf $(COLAB_VENV)
	"$(COLAB_PYTHON)" -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install -r requirements-colab.txt
	$(COLAB_VENV)/bin/python -m pip install --no-deps -e .   # as the Colab set-up cell does
	@touch $(COLAB_STAMP)

test-colab: $(COLAB_STAMP)
	FCN_LESSONS_QUICK=1 FCN_LESSONS_COLAB_VERSIONS=1 $(COLAB_VENV)/bin/python -m pytest tests $(COLAB_DESELECT) $(XDIST) $(PYTEST_ARGS)
	FCN_LESSONS_QUICK=1 FCN_LESSONS_COLAB_VERSIONS=1 $(COLAB_VENV)/bin/python -m pytest $(NBVAL) $(XDIST) notebooks solutions $(PYTEST_ARGS)

notebooks: setup
	$(BIN)/python -m fcn_lessons.notebooks build --kernel $(KERNEL) $(LESSONS) $(SOLUTIONS)
	$(MAKE) --no-print-directory exercises

exercises: $(STAMP)
	$(BIN)/python -m fcn_lessons.exercises $(if $(FORCE),--force)

data: $(STAMP)
	$(BIN)/python -m fcn_lessons.data write-fixtures data

# The instructor's grader (docs/GRADING.md): SUBMISSIONS/<student>/<NN_slug>.ipynb -> GRADEBOOK.
SUBMISSIONS ?=
GRADEBOOK ?= grades.csv
GRADE_ARGS ?=
.PHONY: grade
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [GRADEBOOK=grades.csv] [GRADE_ARGS='--jobs 4']"; exit 2; }
	$(BIN)/python -m fcn_lessons.grade "$(SUBMISSIONS)" --out "$(GRADEBOOK)" $(GRADE_ARGS)

bench: $(STAMP)
	$(BIN)/python -m fcn_lessons.bench all

clean:
	rm -rf $(VENV) $(COLAB_VENV) .pytest_cache

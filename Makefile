# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs mmopt with every extra, runs the benchmark matrix, prints the table
#   make test   creates .venv, installs mmopt with every extra, runs every test (the slow cross-checks too; CI)
#   make test-fast  the same without the tests marked slow (pytest -m "not slow")
# The learned extra is PyTorch (>=2.3,<2.14, CPU build where pip's wheel folder has one); the sumo
# extra is Eclipse SUMO (eclipse-sumo wheel, ~165 MB download) for random-beam-config's mobility="sumo".
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUITE ?= small

.PHONY: run test test-fast install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,learned,sumo]"
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/mmopt run --suite $(SUITE)

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info mmopt-results.sqlite

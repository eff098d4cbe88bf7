# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs mmopt with every extra, runs the benchmark matrix, prints the table
#   make test   creates .venv, installs mmopt with every extra, runs the tests (pytest -m "not slow", < 5 min on 2 cores)
#   make test-slow  the long cross-checks marked slow (pytest -m slow); CI (.ci/run) runs make test, then make test-slow
#   make test-all   both in one pytest run
# The learned extra is PyTorch (>=2.3,<2.14, CPU build where pip's wheel folder has one); the sumo
# extra is Eclipse SUMO (eclipse-sumo wheel, ~165 MB download) for random-beam-config's mobility="sumo".
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUITE ?= small

.PHONY: run test test-slow test-all test-fast install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,learned,sumo]"
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/mmopt run --suite $(SUITE)

test: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

test-all: $(VENV)/.installed
	$(PY) -m pytest -q

# the former name of make test
test-fast: test

clean:
	rm -rf $(VENV) build *.egg-info mmopt-results.sqlite

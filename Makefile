# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs mmopt with every extra, runs the benchmark matrix, prints the table
#   make test   creates .venv, installs mmopt with every extra, runs the tests
# The learned extra is PyTorch (>=2.3,<2.14, CPU build where pip's wheel folder has one).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUITE ?= small

.PHONY: run test install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,learned]"
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/mmopt run --suite $(SUITE)

test: $(VENV)/.installed
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info mmopt-results.sqlite

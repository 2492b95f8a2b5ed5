# Two entry points for a fresh machine (Python 3.10+ and make):
#   make example   set up .venv and run the lecture Fashion-MNIST example
#   make test      set up .venv and run the test suite (and the strict docs build)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup example test docs bench

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,docs]'
	touch $(STAMP)

setup: $(STAMP)

example: setup
	$(PY) examples/fashion_mnist.py

test: setup
	$(PY) -m pytest
	$(PY) -m mkdocs build --strict --site-dir $(VENV)/site

docs: setup
	$(PY) -m mkdocs build --strict

bench: setup
	$(PY) benchmarks/fit_speed.py

# Two commands for a fresh machine with only Python 3.10+:
#   make demo   - create .venv, install, run the embedded demo
#   make test   - create .venv, install, run the test suite and the docstring examples
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Exact versions that were tested together (requirements/constraints.txt).
INSTALL := $(PY) -m pip install -q -c requirements/constraints.txt

.PHONY: install demo test clean

$(VENV)/.installed: setup.py requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(INSTALL) -e ".[cpu,onnx,litert,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m zoo.demo --output_dir demo_out

test: install
	$(PY) -m pytest -n 2 --dist loadfile -q tests zoo

clean:
	rm -rf $(VENV) demo_out .pytest_cache

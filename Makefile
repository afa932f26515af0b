# Two entry points (see README): `make run` runs the main job, `make test` the test suite.
# Each creates .venv with Python 3.11+ and installs ganflow from this repository.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench docs clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/activate

run: $(BIN)/activate
	$(BIN)/ganflow

test: $(BIN)/activate
	$(BIN)/python -m pytest -q -n logical --maxprocesses 4 --dist loadfile

docs: $(BIN)/activate
	$(BIN)/mkdocs build --strict

bench: $(BIN)/activate
	for f in scripts/benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) ganflow-output site

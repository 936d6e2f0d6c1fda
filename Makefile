# clearway — set-up is two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: install
	$(BIN)/clearway demo --out-dir demo-results

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

test-fast: install
	$(BIN)/python -m pytest -n 2 -m "not slow" tests

bench: install
	$(BIN)/python bench/run_bench.py

lint: install
	$(BIN)/ruff check clearway tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) demo-results .pytest_cache .hypothesis build *.egg-info

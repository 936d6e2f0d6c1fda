# clearway — set-up is two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: install demo serve test test-fast bench lint clean fuzz mutation coverage-safety

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

demo: install
	$(BIN)/clearway demo --out-dir demo-results
	@echo
	@echo "Live map dashboard: run 'make serve', then open http://127.0.0.1:$(PORT)/"
	@echo "  (a 3x3 city at 5x real time; it prints an API key per role to sign in with)"

# The service with a live simulated city and its dashboard (development mode: throw-away
# token secret, demo users); Ctrl-C stops it.

serve: install
	mkdir -p demo-results
	$(BIN)/clearway serve --dev --demo-users --scenario grid:3x3:moderate --speed 5 \
		--db sqlite:///demo-results/serve.db --port $(PORT) --out-dir demo-results/serve --open

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

test-fast: install
	$(BIN)/python -m pytest -n 2 -m "not slow" tests

# Long fuzz run: corrupted nets and OSM extracts (tests/fuzz) and the OpenAPI fuzz, with
# FUZZ_EXAMPLES examples per test (about 8 min at 200 on 2 cores; CI runs 15).
FUZZ_EXAMPLES ?= 200
fuzz: install
	CLEARWAY_CACHE_DIR=off CLEARWAY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -n 2 \
		-p no:cacheprovider tests/fuzz tests/service/test_openapi_fuzz.py

# Mutation test of the safety guard (tools/mutation.py: ~11 min on 2 cores); writes
# bench/mutation.json and bench/mutation.md and fails on a surviving non-equivalent mutant.
mutation: install
	$(BIN)/python tools/mutation.py

# Branch coverage of signals/safety (make test enforces 100 % through a test as well).
coverage-safety: install
	$(BIN)/python -m pytest tests/safety/test_guard_rules_at_limits.py -q -p no:cacheprovider \
		--cov=clearway.signals.safety --cov-branch --cov-report=term-missing --cov-fail-under=100

bench: install
	$(BIN)/python bench/run_bench.py

lint: install
	$(BIN)/ruff check clearway tests bench tools
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) demo-results .pytest_cache .hypothesis build *.egg-info

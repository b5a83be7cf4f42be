# The two commands a newcomer needs:  make run  (the daemon on SQLite)  and  make test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast check validate bench lint lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the daemon: scheduled checks, daily digest, HTTP page on 127.0.0.1:8000
	$(BIN)/monitor run

test: $(STAMP)  ## definitions, their examples, lint, types, import layers, then the test-suite
	$(BIN)/monitor validate
	$(BIN)/monitor test
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy monitor benchmarks
	$(BIN)/lint-imports
	$(BIN)/pytest

# The pure and in-process tests, for everyday runs: the stages one by one (definitions, fetch,
# parse, match, evaluate, store, digest, the page) without the marked `slow` subprocess daemons,
# PostgreSQL or the browser, nor the files that drive whole cycles, commands or the API over a
# database, or start `monitor` processes (listed here). `make test` stays the whole suite.
WHOLE := cli cli_ops cli_verdicts scheduler daily hostile pipeline pipeline_window \
         pipeline_evidence web web_live web_verdicts web_guard verdicts store_evidence alerts \
         outages entry_identity migrations fetch_connections web_shapes store_read_only web_signin export \
         parse_pool check_idle check_exit cli_says check_interrupted digest_interrupted \
         examples_interrupted export_interrupted cli_closed_pipe db_first_start dry_run_leftovers
test-fast: $(STAMP)  ## the pure and in-process tests, in about five minutes
	$(BIN)/pytest -q -m "not slow and not postgres and not browser" $(WHOLE:%=--ignore=tests/test_%.py)

check: $(STAMP)  ## one check cycle now
	$(BIN)/monitor check

bench: $(STAMP)  ## the benchmark harness; prints JSON and one PASS/FAIL line per target
	$(BIN)/python -m benchmarks

lint: $(STAMP)  ## ruff, mypy (strict) and the import layers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy monitor benchmarks
	$(BIN)/lint-imports

# The image installs requirements.lock alone (pinned, with hashes, build tools included), so that
# every build gets the same packages. Resolved against PyPI, whatever the machine's pip config.
lock: $(STAMP)  ## refresh requirements.lock from pyproject.toml's dependencies
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= PIP_CONSTRAINT= \
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
	    --build-deps-for wheel \
	    --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) data/ .pytest_cache

# One entry point for the developer loop. Everything installs itself into .venv and
# typescript/node_modules, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := typescript/node_modules/.installed-stamp

.PHONY: install node demo test test-python test-coverage test-ts test-examples lint fmt types codegen \
        codegen-check bundle bundle-check conformance mutation bench bench-quick soak docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench,docs]'
	touch $@

install: $(STAMP)

$(NODE_STAMP): typescript/package.json typescript/package-lock.json
	cd typescript && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: $(NODE_STAMP)

# Installs the Python package (no Node needed: the browser bundle ships inside it) and runs the
# seed's demo: broker on ws://127.0.0.1:8080/ws, a demo page on http://127.0.0.1:8080/.
$(VENV)/bin/wsmq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

demo: $(VENV)/bin/wsmq
	$(VENV)/bin/wsmq serve --demo

test: install node codegen-check bundle-check
	$(MAKE) test-coverage
	cd typescript && npm test
	$(MAKE) test-examples

# The Python suite under coverage.py: branch coverage of python/src/websocketmq, the brokers and
# CLIs the tests spawn included ([tool.coverage.run] patch = ["subprocess"] in pyproject.toml).
# Fails when the suite fails or the total is under [tool.coverage.report] fail_under; prints the
# figure, the per-file table goes to test-artifacts/python-coverage.txt.
test-coverage: install
	rm -f .coverage .coverage.*
	mkdir -p test-artifacts
	$(PY) -m coverage run -m pytest -q
	$(PY) -m coverage combine -q
	$(PY) -m coverage report > test-artifacts/python-coverage.txt || \
		{ tail -3 test-artifacts/python-coverage.txt; exit 1; }
	@echo "Python branch coverage of python/src/websocketmq: $$($(PY) -m coverage report --format=total)%"

# The examples end to end (examples/*/*.test.mjs: real servers, headless Chromium).
test-examples: install node
	cd typescript && node --test --test-concurrency=1 --test-timeout=120000 ../examples/*/*.test.mjs

test-python: install
	$(PY) -m pytest -q

test-ts: install node
	cd typescript && npm test

lint: install node
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd typescript && npx eslint src

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

types: install node
	$(VENV)/bin/mypy
	cd typescript && npx tsc --noEmit -p .
	cd typescript && npx tsc --noEmit -p ../bench/node

codegen: install
	$(PY) -m codegen

codegen-check: install
	$(PY) -m codegen --check

bundle: install node
	cd typescript && npm run build
	$(PY) examples/build.py

bundle-check: install node
	cd typescript && npm run bundle-check
	$(PY) examples/build.py --check

# The conformance suite against a freshly spawned reference broker; reports for CI viewers.
conformance: install
	mkdir -p test-artifacts
	$(PY) -m wsmq_conformance --spawn-reference --profile full \
		--json test-artifacts/conformance.json --junit test-artifacts/conformance.xml

# How strong the conformance suite is: every mutant of conformance/mutation/mutants.py against it,
# one at a time (CPU-heavy, ~20-40 min on a shared machine; not part of `make test`). Report:
# test-artifacts/mutation.{md,json}; fails on a false alarm or a stale mutant.
mutation: install
	mkdir -p test-artifacts
	nice -n 10 $(PY) conformance/mutation/run.py --out test-artifacts

bench: install
	$(PY) -m bench

bench-quick: install
	$(PY) -m bench --quick

# The full-size mixed soak, then issue 15's load scenario (bench/soak.py: 2,000 subscribers in
# 8 processes, 20,000 deliveries/s; SOAK_SECONDS=20 for a shorter run). Not part of make test.
SOAK_SECONDS ?= 60
soak: install
	$(PY) -m pytest -q -m slow tests/test_soak.py --soak-full
	$(PY) -m bench.soak --seconds $(SOAK_SECONDS)

# The documentation site (mkdocs-material + mkdocstrings); --strict: a broken link, a missing
# page, a page missing from the nav or a bad reference fails the build. Output in site/. The
# TypeScript reference (docs/reference/typescript/, not committed) is generated first by typedoc.
docs: install node
	cd typescript && npx typedoc --logLevel Warn
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) typescript/node_modules typescript/dist test-artifacts site .pytest_cache .mypy_cache \
		.coverage .coverage.*

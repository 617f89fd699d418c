# Two commands do all set-up on a fresh machine: `make site` (or `make serve`) and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# npm packages, pinned by the committed lock files, installed into gitignored folders.
# --ignore-scripts: vnu-jar's postinstall would download a Java; the machine's is used.
NPM_CI := npm ci --ignore-scripts --no-audit --no-fund
NODE_STAMP := node_modules/.installed-stamp
BENCH_NODE_STAMP := bench/node_modules/.installed-stamp

.PHONY: site serve check test lint format bench budgets clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# axe-core (accessibility rules for the browser tests) and vnu-jar (the HTML checker)
$(NODE_STAMP): package.json package-lock.json
	$(NPM_CI)
	touch $(NODE_STAMP)

# Lighthouse, for bench/budgets.py only
$(BENCH_NODE_STAMP): bench/package.json bench/package-lock.json
	$(NPM_CI) --prefix bench
	touch $(BENCH_NODE_STAMP)

site: $(STAMP)
	$(PY) build.py build

serve: $(STAMP)
	$(PY) build.py serve

check: $(STAMP)
	$(PY) build.py check --strict

test: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Page weight, HTML errors, axe violations and Lighthouse scores, as a table
budgets: $(STAMP) $(NODE_STAMP) $(BENCH_NODE_STAMP)
	$(PY) bench/budgets.py

# Build speed against the Markdown floor, Pelican, MkDocs, Hugo and Eleventy (long: 1000
# and 4000 pages, 5 runs each); e.g. make bench BENCH_ARGS='--sizes 50,100 --runs 2'
bench: $(STAMP)
	$(PY) bench/build_speed.py $(BENCH_ARGS)

clean:
	rm -rf site .cache .pytest_cache

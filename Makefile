# 驿站图 Station Atlas — the two commands: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
DATA    ?= $(or $(GEO_DATA_DIR),data)
PORT    ?= 8501
SCALE   ?= 1.0
# Worker processes of `make run`. Keep 1 for the Streamlit pages: they hold uploads and
# downloads in one process, and with 2+ workers a file upload or download lands on the
# other worker about half the time and fails (docs/deploy.md). The API and /m/ scale with workers.
WORKERS ?= 1
STAMP   := $(VENV)/.installed

.PHONY: run test lint format bench browser clean-data help

help:
	@echo "make run    - install, generate demo data if missing, start the app (+ API, + phone app /m/) on http://localhost:$(PORT)"
	@echo "             WORKERS=2 serves the API and /m/ from 2 processes, but breaks Streamlit uploads/downloads (default 1)"
	@echo "make test   - install test deps, check the browser, lint, run every test"
	@echo "make bench  - run every benchmark and rewrite bench/RESULTS.md"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(DATA)/CURRENT: | $(STAMP)
	$(BIN)/python -m geo generate --scale $(SCALE) --data-dir $(DATA)

run: $(STAMP) $(DATA)/CURRENT
	@$(BIN)/python -m geo.phone $(PORT) $(WORKERS)
	GEO_DATA_DIR=$(DATA) $(BIN)/uvicorn asgi:app --host 0.0.0.0 --port $(PORT) --workers $(WORKERS) --no-proxy-headers \
	  --timeout-worker-healthcheck 120

# Headless Chromium for the real-browser tests: Debian's package (never `playwright install`,
# which downloads its own browser and cannot work offline), plus a CJK font for screenshots.
browser:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei fonts-noto-color-emoji) >/dev/null; \
	fi; \
	if [ ! -x /usr/bin/chromium ]; then \
	  echo "ERROR: no headless Chromium at /usr/bin/chromium. Install it: sudo apt-get install chromium fonts-wqy-microhei" >&2; \
	  echo "       (or set GEO_CHROMIUM=/path/to/chromium). Browser tests are never skipped." >&2; \
	  [ -n "$$GEO_CHROMIUM" ] && [ -x "$$GEO_CHROMIUM" ] || exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q

# Benchmarks read the national demo (generated into $(DATA) if missing) and load the API
# with wrk (Debian package; installed here when root, else a slower Python client is used).
bench: $(STAMP) $(DATA)/CURRENT browser
	@command -v wrk >/dev/null || { [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || true
	GEO_BENCH_DATA=$(DATA) $(BIN)/python bench/run_all.py

clean-data:
	rm -rf $(DATA)

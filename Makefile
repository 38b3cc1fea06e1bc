# Two commands do all set-up on a fresh machine:
#   make run    create .venv, install, build the index if missing or stale, start the app
#   make test   the same set-up, then the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
# This machine's pip configuration lists an extra index folder that pip warns about on every package.
PIP_QUIET := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup index run test test-fast eval lint bench browser services clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | $(PIP_QUIET)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | $(PIP_QUIET)
	@if $(BIN)/python -m pip list 2>/dev/null | grep -qi '^nvidia'; then \
		echo "error: CUDA packages in $(VENV); torch must be the CPU build (torch==2.13.0)" >&2; exit 1; fi
	touch $(STAMP)

index: setup
	$(BIN)/chatbot index build --if-stale

run: index
	$(BIN)/python app.py

# Debian's chromium and npm, for the end-to-end browser tests, installed when missing; then the
# axe-core accessibility engine from the npm registry, at the version in package-lock.json.
browser: node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null 2>&1 || $(call apt_install,chromium)

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || $(call apt_install,npm)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

define apt_install
	{ echo "Installing Debian's $(1) for the browser tests..."; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -qq --no-install-recommends $(1) >/dev/null 2>&1 \
	|| { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(1) >/dev/null; }; }
endef

# Debian's PostgreSQL and nginx, for the storage and deployment tests (the fixtures start them
# on 127.0.0.1 with their own data folders; no system service is used); installed when missing.
services:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -x /usr/sbin/nginx ]; } || { \
		echo "Installing Debian's postgresql and nginx for the storage and deployment tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y -qq --no-install-recommends postgresql nginx >/dev/null 2>&1 \
		|| { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends postgresql nginx >/dev/null; }; }

test: index browser services
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory eval

# Every shipped question set against the real bot; exits non-zero when a gate or a critical case fails.
eval: index
	$(BIN)/chatbot eval evals/sets/*.yaml --out evals/runs/latest --no-progress

test-fast: index services
	$(BIN)/python -m pytest -m "not e2e and not server"

lint: setup
	$(BIN)/ruff check .

bench: index
	$(BIN)/python bench/retrieval_bench.py

clean:
	rm -rf $(VENV) node_modules index/*.json index/*.jsonl index/*.faiss

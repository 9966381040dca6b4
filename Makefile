# `make test` is the one test command: the README gives it and .ci/run calls it.
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint system-deps

# System packages the tests talk to for real: a mosquitto broker and Debian's Chromium
# (the tablet-page test drives it through playwright; playwright's own browser download is not used).
system-deps:
	@missing=""; \
	{ command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; } || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi

$(BIN)/python:
	python3 -m venv $(VENV)

test: system-deps $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --upgrade --upgrade-strategy eager -e '.[test,train]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

demo: $(BIN)/python
	$(BIN)/pip install -q .
	$(BIN)/edge-agent demo

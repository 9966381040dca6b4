# `make test` is the one test command: the README gives it and .ci/run calls it.
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint system-deps

# System packages the tests talk to for real: a mosquitto broker.
system-deps:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends mosquitto; }

$(BIN)/python:
	python3 -m venv $(VENV)

test: system-deps $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,train]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

demo: $(BIN)/python
	$(BIN)/pip install -q .
	$(BIN)/edge-agent demo

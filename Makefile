# `make test` is the one test command: the README gives it and .ci/run calls it.
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint system-deps

# System packages the tests talk to for real: mosquitto, RabbitMQ (its MQTT plugin), NATS (its MQTT
# listener on JetStream) and PostgreSQL (the fleet's landing database), each started privately by the tests; faketime (the suite runs its dated
# tests with the clock a year ahead); Debian's Chromium
# (the tablet-page test drives it through playwright; playwright's own browser download is not used);
# dbus-daemon with the system Python's D-Bus and GLib bindings, which run python-dbusmock's BlueZ
# (installed beside the venv, in .venv/dbusmock) for the tests of bleak's real BlueZ backend.
system-deps:
	@missing=""; \
	{ command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; } || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	{ command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ]; } || missing="$$missing nats-server"; \
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$$missing rabbitmq-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v dbus-daemon >/dev/null || missing="$$missing dbus-daemon"; \
	/usr/bin/python3 -c 'import dbus' 2>/dev/null || missing="$$missing python3-dbus"; \
	/usr/bin/python3 -c 'import gi' 2>/dev/null || missing="$$missing python3-gi"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi

$(BIN)/python:
	python3 -m venv $(VENV)

# pytest runs two workers, a test module each at a time (module fixtures and their private brokers
# stay together): the suite mostly waits on brokers, browsers and subprocesses, so two halve it.
test: system-deps $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --upgrade --upgrade-strategy eager -e '.[test,train,fleet]'
	$(BIN)/pip install -q --upgrade --no-deps --target $(VENV)/dbusmock 'python-dbusmock>=0.38,<1'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(BIN)/python
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

demo: $(BIN)/python
	$(BIN)/pip install -q .
	$(BIN)/edge-agent demo

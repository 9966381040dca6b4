"""Sinks: where decisions go (MQTT alerts, the store, later the web and the uplink)."""

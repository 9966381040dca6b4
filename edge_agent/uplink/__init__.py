"""Cloud sync: the outbox drained oldest first through one transport (MQTT, HTTPS or a mock)."""

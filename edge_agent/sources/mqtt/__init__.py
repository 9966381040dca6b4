"""MQTT sources: smart mirrors and remote BLE scanners on the store broker."""

from __future__ import annotations

from ...config import AgentConfig
from ...decoders.mirror import decode_mirror
from ...decoders.pos import decode_sale
from ...decoders.theengs import decode_theengs, redact_ble
from ...events import Advertisement, MirrorEvent, Sale
from .subscriber import MqttSubscriber


def topic_level(topic: str, index: int) -> str:
    parts = topic.split("/")
    return parts[index] if len(parts) > index else "unknown"


def mirror_source(config: AgentConfig) -> MqttSubscriber:
    """`{topic_prefix}/mirror/{device_id}/events`, QoS 1, persistent session, acked after storing."""
    prefix = config.topic_prefix
    device_index = len(prefix.split("/")) + 1

    def device_of(topic: str) -> str:
        return topic_level(topic, device_index)

    def decode(topic: str, payload: bytes) -> MirrorEvent:
        return decode_mirror(device_of(topic), payload)

    return MqttSubscriber(
        "mqtt-mirror",
        config.mqtt,
        [f"{prefix}/mirror/+/events"],
        client_id=config.mqtt.client_id or f"edge-agent-{config.store_id}-mirror",
        decode=decode,
        device_of=device_of,
        persistent=True,
    )


def pos_source(config: AgentConfig) -> MqttSubscriber:
    """`{topic_prefix}/pos/{device_id}/sales`, QoS 1, persistent session, acked after storing (SPEC §14)."""
    prefix = config.topic_prefix
    device_index = len(prefix.split("/")) + 1

    def device_of(topic: str) -> str:
        return topic_level(topic, device_index)

    def decode(topic: str, payload: bytes) -> Sale:
        return decode_sale(device_of(topic), payload)

    return MqttSubscriber(
        "mqtt-pos",
        config.mqtt,
        [f"{prefix}/pos/+/sales"],
        client_id=f"edge-agent-{config.store_id}-pos",
        decode=decode,
        device_of=device_of,
        persistent=True,
    )


def remote_scanner_source(config: AgentConfig) -> MqttSubscriber:
    """Theengs Gateway / OpenMQTTGateway JSON on `ble.remote_topic`; the scanner is level two."""

    def device_of(topic: str) -> str:
        return topic_level(topic, 1)

    def decode(topic: str, payload: bytes) -> Advertisement:
        return decode_theengs(device_of(topic), payload)

    return MqttSubscriber(
        "mqtt-ble-scanners",
        config.mqtt,
        [config.ble.remote_topic],
        client_id=f"edge-agent-{config.store_id}-scanners",
        decode=decode,
        device_of=device_of,
        persistent=False,
        redact=redact_ble,
    )


__all__ = ["MqttSubscriber", "mirror_source", "pos_source", "remote_scanner_source"]

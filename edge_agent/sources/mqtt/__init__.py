"""MQTT sources: smart mirrors and remote BLE scanners on the store broker."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ...config.agent import AgentConfig, MqttConfig
from ...core.events import Advertisement, Event
from ...decoders.espresense import decode_espresense
from ...decoders.mirror import decode_mirror
from ...decoders.pos import decode_sale
from ...decoders.theengs import decode_theengs, redact_ble
from ...links.wire import topic_filter_pattern
from ...social.remote import decode_vote
from .subscriber import MqttSubscriber


def topic_level(topic: str, index: int) -> str:
    parts = topic.split("/")
    # Interned: every event of a device then shares one string for its id instead of a copy each
    # (thousands wait in the queue at a busy store); mortal since 3.10, so none outlives its use.
    return sys.intern(parts[index]) if len(parts) > index else "unknown"


def _device_topic_source(
    config: AgentConfig, name: str, kind: str, leaf: str, decode: Callable[[str, bytes], Event]
) -> MqttSubscriber:
    """`{topic_prefix}/{kind}/{device_id}/{leaf}`, QoS 1, persistent session, acked after storing."""
    prefix = config.topic_prefix
    device_index = len(prefix.split("/")) + 1

    def device_of(topic: str) -> str:
        return topic_level(topic, device_index)

    return MqttSubscriber(
        name,
        config.mqtt,
        [f"{prefix}/{kind}/+/{leaf}"],
        client_id=(config.mqtt.client_id if kind == "mirror" else None) or f"edge-agent-{config.store_id}-{kind}",
        decode=lambda topic, payload: decode(device_of(topic), payload),
        device_of=device_of,
        persistent=True,
    )


def mirror_source(config: AgentConfig) -> MqttSubscriber:
    """Smart mirrors: `{topic_prefix}/mirror/{device_id}/events` (docs/interface.md § MQTT)."""
    return _device_topic_source(config, "mqtt-mirror", "mirror", "events", decode_mirror)


def pos_source(config: AgentConfig) -> MqttSubscriber:
    """Tills: `{topic_prefix}/pos/{device_id}/sales` (docs/interface.md)."""
    return _device_topic_source(config, "mqtt-pos", "pos", "sales", decode_sale)


def remote_scanner_source(config: AgentConfig) -> MqttSubscriber:
    """Remote BLE scanners on one connection: Theengs Gateway / OpenMQTTGateway JSON on
    `ble.remote_topic` (the scanner is topic level two) and ESPresense on `ble.espresense_topic`
    (the scanner is the room, the last level)."""
    espresense = config.ble.espresense_topic
    is_espresense = topic_filter_pattern(espresense).match

    def device_of(topic: str) -> str:
        return topic_level(topic, -1) if is_espresense(topic) else topic_level(topic, 1)

    def decode(topic: str, payload: bytes) -> Advertisement:
        if is_espresense(topic):
            return decode_espresense(topic_level(topic, -1), payload)
        return decode_theengs(topic_level(topic, 1), payload)

    return MqttSubscriber(
        "mqtt-ble-scanners",
        config.mqtt,
        [config.ble.remote_topic, espresense],
        client_id=f"edge-agent-{config.store_id}-scanners",
        decode=decode,
        device_of=device_of,
        persistent=False,
        redact=redact_ble,
    )


__all__ = ["MqttSubscriber", "mirror_source", "pos_source", "remote_scanner_source"]


def uplink_broker(config: AgentConfig) -> MqttConfig:
    """The chain's broker (`uplink.url`), as a broker the box subscribes to or publishes on."""
    return MqttConfig(url=config.uplink.url, tls=config.uplink.tls)


def remote_votes_source(config: AgentConfig) -> MqttSubscriber:
    """Friends' votes relayed by the chain: `{social.votes_topic}/{look_id}` on the uplink broker,
    QoS 1, persistent, acknowledged after commit (SPEC §16)."""
    topic = config.social.votes_topic.format(store_id=config.store_id)
    return MqttSubscriber(
        "mqtt-social-votes",
        uplink_broker(config),
        [f"{topic}/+"],
        client_id=f"edge-agent-{config.store_id}-votes",
        decode=lambda topic, payload: decode_vote(topic_level(topic, -1), payload),
        device_of=lambda topic: "relay",
        persistent=True,
    )

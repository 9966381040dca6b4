"""Friends' advice leaving the box: the look's state for its mirror on the store broker, and look
cards for the chain's relay on the uplink broker (SPEC §16).

Each is a sink behind its own bounded queue. A look card is retained (a relay that restarts gets
every live look again) and cleared with an empty retained message once the look is over.
"""

from __future__ import annotations

import json

from ..links.mqtt import MqttPublisher
from ..social.looks import LookState
from ..social.remote import LookCard


class MirrorSocial:
    """`{topic_prefix}/mirror/{device_id}/social`, QoS 1: URLs for the QR code, the live tally."""

    def __init__(self, publisher: MqttPublisher, topic_prefix: str) -> None:
        self._publisher = publisher
        self._prefix = topic_prefix

    async def deliver(self, item: tuple[str, LookState]) -> None:
        device_id, state = item
        payload = json.dumps(state.to_json()).encode()
        await self._publisher.publish(f"{self._prefix}/mirror/{device_id}/social", payload, qos=1)


class LookCards:
    """`{social.looks_topic}/{look_id}` on the uplink broker, QoS 1, retained."""

    def __init__(self, publisher: MqttPublisher, looks_topic: str) -> None:
        self._publisher = publisher
        self._topic = looks_topic

    async def deliver(self, item: tuple[str, LookCard | None]) -> None:
        look_id, card = item
        payload = json.dumps(card.to_json()).encode() if card is not None else b""
        await self._publisher.publish(f"{self._topic}/{look_id}", payload, qos=1, retain=True)

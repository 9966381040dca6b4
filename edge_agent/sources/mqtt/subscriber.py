"""One MQTT subscription as a Source: reconnect with backoff, resubscribe, acknowledge late."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiomqtt

from ...config import MqttConfig
from ...errors import DecodeError
from ...events import DeadLetter
from ...links import Link, LinkState
from ...links.mqtt import connected, consume_disconnect_reason, store_client
from ..base import Acked, Event, LinkedSource, SourceEvent

log = logging.getLogger(__name__)

# (topic, payload) → event; raises DecodeError. The first element names the device for dead letters.
Decoder = Callable[[str, bytes], Event]
DeviceOf = Callable[[str], str]

SAMPLE_BYTES = 4096


class DropCounter:
    """Counts what aiomqtt's bounded incoming queue discards, and says so once per burst."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self._logged_at = -60.0

    def dropped(self) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._logged_at >= 60.0:
            self._logged_at = now
            log.warning("%s: cannot keep up, discarding messages (%d so far; counted in status)", self.name, self.count)

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        counter = self

        class CountingQueue(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                if self.full():
                    counter.dropped()  # instead of aiomqtt's one warning line per discarded message
                    return
                super().put_nowait(item)

        return CountingQueue


class MqttSubscriber(LinkedSource):
    """Subscribes to `topics` and yields decoded events.

    With `persistent=True` the session survives restarts (fixed client id, clean session off,
    QoS 1) and every message is yielded as `Acked`: the PUBACK goes to the broker only when the
    pipeline calls `ack()` after the event is committed to SQLite. A message in flight when the
    agent dies is therefore redelivered, never lost.
    """

    def __init__(
        self,
        name: str,
        config: MqttConfig,
        topics: list[str],
        *,
        client_id: str,
        decode: Decoder,
        device_of: DeviceOf,
        persistent: bool = True,
        max_queued: int = 10_000,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self._topics = topics
        self._client_id = client_id
        self._decode = decode
        self._device_of = device_of
        self._persistent = persistent
        self._max_queued = max_queued
        self.link = Link(f"{name}: broker {config.url}", initial=0.5, cap=30.0)
        self._client: aiomqtt.Client | None = None
        self._redact = redact or (lambda sample: sample)
        self._drops = DropCounter(name)

    @property
    def dropped(self) -> int:
        """QoS 0 messages the client had to discard because we could not keep up (counted, never silent)."""
        return self._drops.count

    def _ack(self, client: aiomqtt.Client, mid: int, qos: int) -> None:
        # After a reconnect the old message ids mean nothing; the broker redelivers instead.
        if client is self._client and self.state is LinkState.CONNECTED and client._client.is_connected():
            client._client.ack(mid, qos)  # paho's manual ack: aiomqtt 2 has no public API for it

    def _event(self, client: aiomqtt.Client, message: aiomqtt.Message) -> SourceEvent:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        try:
            event: Event = self._decode(topic, payload)
        except DecodeError as exc:
            sample = self._redact(payload[:SAMPLE_BYTES])
            event = DeadLetter(self._device_of(topic), exc.reason, time.time(), sample, exc.detail, claimed=True)
        except Exception as exc:  # noqa: BLE001 -- an input the decoder did not foresee is still only bad input, never a crash
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            sample = self._redact(payload[:SAMPLE_BYTES])
            event = DeadLetter(self._device_of(topic), "undecodable", time.time(), sample, detail, claimed=True)
        if self._persistent and message.qos > 0:
            mid, qos = message.mid, message.qos
            return Acked(event, lambda fresh: self._ack(client, mid, qos))
        return event

    async def events(self) -> AsyncIterator[SourceEvent]:
        while True:
            self.link.connecting()
            client = store_client(
                self._config,
                self._client_id,
                clean_session=not self._persistent,
                # Persistent: unacknowledged messages are bounded by the broker's in-flight window
                # (max_inflight_messages); a message dropped here would never be acknowledged.
                max_queued_incoming=None if self._persistent else self._max_queued,
                queue_type=self._drops.queue_type(),
            )
            client._client.manual_ack_set(self._persistent)
            try:
                async with connected(client):
                    self._client = client
                    await client.subscribe([(t, 1 if self._persistent else 0) for t in self._topics])
                    self.link.up()
                    log.info("%s: subscribed to %s", self.name, ", ".join(self._topics))
                    async for message in client.messages:
                        yield self._event(client, message)
            except aiomqtt.MqttError as exc:
                await self.link.retry_after(exc)
            finally:
                self._client = None
                consume_disconnect_reason(client)

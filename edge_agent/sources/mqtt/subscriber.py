"""One MQTT subscription as a Source: reconnect with backoff, resubscribe, acknowledge late."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

from ...config.agent import MqttConfig
from ...core.errors import DecodeError
from ...core.events import DeadLetter
from ...links import Link
from ...links.inbound import Endpoint, InboundError, InboundSession
from ...links.wire import Publish
from ..base import Acked, Event, LinkedSource, SourceEvent

log = logging.getLogger(__name__)

# (topic, payload) → event; raises DecodeError. The first element names the device for dead letters.
Decoder = Callable[[str, bytes], Event]
DeviceOf = Callable[[str], str]

SAMPLE_BYTES = 4096


class DropCounter:
    """Counts QoS 0 messages discarded because we could not keep up, and says so once per burst."""

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
        self._redact = redact or (lambda sample: sample)
        self._drops = DropCounter(name)

    @property
    def dropped(self) -> int:
        """QoS 0 messages the client had to discard because we could not keep up (counted, never silent)."""
        return self._drops.count

    def _event(self, session: InboundSession, message: Publish) -> SourceEvent:
        topic, payload = message.topic, message.payload
        try:
            if message.oversized:
                raise DecodeError("too_large", f"payload over {len(payload)} bytes was not kept")
            event: Event = self._decode(topic, payload)
        except DecodeError as exc:
            sample = self._redact(payload[:SAMPLE_BYTES])
            event = DeadLetter(self._device_of(topic), exc.reason, time.time(), sample, exc.detail, claimed=True)
        except Exception as exc:  # noqa: BLE001 -- an input the decoder did not foresee is still only bad input, never a crash
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            sample = self._redact(payload[:SAMPLE_BYTES])
            event = DeadLetter(self._device_of(topic), "undecodable", time.time(), sample, detail, claimed=True)
        if message.qos:
            mid = message.mid
            return Acked(event, lambda fresh: session.ack(mid))
        return event

    async def events(self) -> AsyncIterator[SourceEvent]:
        qos = 1 if self._persistent else 0
        while True:
            self.link.connecting()
            session = InboundSession(
                Endpoint.of(self._config),
                self._client_id,
                clean=not self._persistent,
                # Persistent: unacknowledged messages are bounded by the broker's in-flight window;
                # a QoS 1 message is never dropped here (reading pauses instead).
                max_queued=self._max_queued,
                on_drop=self._drops.dropped,
            )
            try:
                async with session:
                    await session.subscribe([(t, qos) for t in self._topics])
                    self.link.up()
                    log.info("%s: subscribed to %s", self.name, ", ".join(self._topics))
                    async for message in session.messages():
                        yield self._event(session, message)
            except InboundError as exc:
                await self.link.retry_after(exc)

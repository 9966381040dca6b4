"""One MQTT subscription as a Source: reconnect with backoff, resubscribe, acknowledge late."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager

from ...config.agent import MqttConfig
from ...core.errors import DecodeError
from ...core.events import DeadLetter
from ...links import Link, identity_on
from ...links.inbound import Endpoint, InboundSession
from ...links.session import Message
from ..base import Acked, Event, SourceEvent, SourceInfo

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


class MqttSubscriber:
    """Subscribes to `topics` and yields decoded events.

    With `persistent=True` the session survives restarts (fixed client id, clean session off,
    QoS 1) and every message is yielded as `Acked`: the PUBACK goes to the broker only when the
    pipeline calls `ack()` after the event is committed to SQLite, and acknowledgements leave
    in the order the messages arrived. A message in flight when the agent dies is therefore
    redelivered, never lost.
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
        self.link = Link(
            f"{name}: broker {config.url}",
            initial=0.5,
            cap=30.0,
            client_id=client_id,
            identity=identity_on(config.url),
            logger=log,
        )
        self._redact = redact or (lambda sample: sample)
        self._drops = DropCounter(name)

    def info(self) -> SourceInfo:
        return SourceInfo(dropped=self._drops.count)

    def _event(self, session: InboundSession, message: Message) -> SourceEvent:
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
            return Acked(event, lambda fresh: session.ack(message))
        return event

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        session = InboundSession(
            Endpoint.of(self._config),
            self._client_id,
            clean=not self._persistent,
            # Persistent: unacknowledged messages are bounded by the broker's in-flight window;
            # a QoS 1 message is never dropped here (reading pauses instead).
            max_queued=self._max_queued,
            on_drop=self._drops.dropped,
        )
        async with session:
            await session.subscribe([(t, 1 if self._persistent else 0) for t in self._topics])
            if self._persistent and not session.session_present:
                log.info(
                    "%s: the broker held no session for %s (first start, or it lost it): subscribed afresh",
                    self.name,
                    self._client_id,
                )
            log.info("%s: subscribed to %s", self.name, ", ".join(self._topics))
            events = self._events(session)
            try:
                yield events
            finally:
                await events.aclose()

    async def _events(self, session: InboundSession) -> AsyncGenerator[SourceEvent, None]:
        async for message in session.messages():
            yield self._event(session, message)

"""A receive-only MQTT 3.1.1 session on asyncio: frames in, PUBACKs coalesced into one write.

The hot inbound path (mirrors, tills, remote scanners) does not go through paho: paho parses
one packet per socket read in Python and wakes the loop per message, which was half of the
time of a durably stored mirror event. Here one `data_received` cuts every frame in the chunk,
and every PUBACK released by one commit leaves in one `write`. Publishing stays on aiomqtt.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from ..config.agent import MqttConfig
from ..core.errors import EdgeAgentError
from . import wire
from .mqtt import broker_address, tls_context

log = logging.getLogger(__name__)


class InboundError(EdgeAgentError):
    """The session ended or could not start (refused, timed out, connection lost)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach the store broker."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, config: MqttConfig) -> Endpoint:
        host, port, secure = broker_address(config.url)
        return cls(
            host,
            port,
            tls_context(config.tls) if secure else None,
            config.username,
            config.password,
        )


class _Protocol(asyncio.Protocol):
    def __init__(self, session: InboundSession) -> None:
        self._session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._session._transport = transport
        self._session._received_at = asyncio.get_running_loop().time()

    def data_received(self, data: bytes) -> None:
        self._session._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._session._lost(exc)


class InboundSession:
    """`async with InboundSession(...) as s: await s.subscribe(...); async for m in s.messages()`.

    QoS 1 messages are acknowledged only by `ack(mid)`; acks requested in one loop iteration
    go out together. QoS 0 messages beyond `max_queued` are dropped and reported to `on_drop`;
    QoS 1 messages are never dropped: reading pauses instead (the broker keeps them).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        client_id: str,
        *,
        clean: bool,
        keepalive: int = 30,
        max_queued: int = 10_000,
        on_drop: Callable[[], None] = lambda: None,
        timeout: float = 10.0,
    ) -> None:
        self._endpoint = endpoint
        self._client_id = client_id
        self._clean = clean
        self._keepalive = keepalive
        self._max_queued = max_queued
        self._on_drop = on_drop
        self._timeout = timeout
        self._reader = wire.FrameReader()
        self._inbox: deque[wire.Publish] = deque()
        self._readable = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._error: InboundError | None = None
        self._waiting: dict[int, asyncio.Future[bytes]] = {}  # CONNACK under 0, SUBACKs under their id
        self._acks: list[int] = []
        self._received_at = 0.0
        self._tg = asyncio.TaskGroup()
        self._keeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        ep = self._endpoint
        try:
            async with asyncio.timeout(self._timeout):
                await loop.create_connection(
                    lambda: _Protocol(self), ep.host, ep.port, ssl=ep.tls, server_hostname=ep.host if ep.tls else None
                )
                packet = wire.connect(
                    self._client_id,
                    clean=self._clean,
                    keepalive=self._keepalive,
                    username=ep.username,
                    password=ep.password,
                )
                wire.connack(await self._request(0, packet))
        except (OSError, TimeoutError, wire.ProtocolError) as exc:
            self._close()
            raise InboundError(f"cannot connect to {ep.host}:{ep.port}: {_reason(exc)}") from exc
        await self._tg.__aenter__()
        self._keeper = self._tg.create_task(self._keep_alive(), name=f"mqtt-keepalive-{self._client_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
        if self._transport is not None and not self._transport.is_closing():
            self._flush_acks()
            self._transport.write(wire.DISCONNECT_BYTES)
        self._close()
        await self._tg.__aexit__(None, None, None)  # the keeper is cancelled; the caller's exception stays its own

    async def subscribe(self, filters: list[tuple[str, int]]) -> None:
        """Subscribe and wait for the SUBACK; a filter the broker refuses (e.g. by ACL) is an error."""
        try:
            async with asyncio.timeout(self._timeout):
                _, granted = wire.suback(await self._request(1, wire.subscribe(1, filters)))
        except (OSError, TimeoutError, wire.ProtocolError) as exc:
            self._close()
            raise InboundError(f"subscription failed: {_reason(exc)}") from exc
        refused = [t for (t, _), code in zip(filters, granted, strict=False) if code & 0x80]
        if refused:
            raise InboundError(f"broker refused the subscription to {', '.join(refused)}")

    async def messages(self) -> AsyncIterator[wire.Publish]:
        """Received messages in order, until the connection ends (then InboundError)."""
        inbox = self._inbox
        while True:
            while inbox:
                yield inbox.popleft()
                if self._paused and len(inbox) < self._max_queued // 2 and self._transport is not None:
                    self._paused = False
                    self._received_at = asyncio.get_running_loop().time()  # silence while paused was ours
                    self._transport.resume_reading()
            if self._error is not None:
                raise self._error
            self._readable.clear()
            await self._readable.wait()

    def ack(self, mid: int) -> None:
        """Acknowledge a QoS 1 message; every ack of this loop iteration leaves in one write."""
        if self._transport is None or self._transport.is_closing():
            return  # after a reconnect old ids mean nothing; the broker redelivers instead
        if not self._acks:
            asyncio.get_running_loop().call_soon(self._flush_acks)
        self._acks.append(mid)

    def _flush_acks(self) -> None:
        if self._acks and self._transport is not None and not self._transport.is_closing():
            self._transport.write(wire.pubacks(self._acks))
        self._acks = []

    async def _request(self, key: int, packet: bytes) -> bytes:
        if self._transport is None:
            raise OSError("not connected")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        self._transport.write(packet)
        try:
            return await future
        finally:
            self._waiting.pop(key, None)

    async def _keep_alive(self) -> None:
        """PINGREQ every half keepalive; a broker silent for 1.5 keepalives is gone."""
        loop = asyncio.get_running_loop()
        while self._transport is not None and not self._transport.is_closing():
            await asyncio.sleep(self._keepalive / 2)
            if not self._paused and loop.time() - self._received_at > self._keepalive * 1.5:
                self._fail(InboundError("broker stopped answering (keepalive)"))
                return
            if self._transport is not None and not self._transport.is_closing():
                self._transport.write(wire.PINGREQ_BYTES)

    def _received(self, data: bytes) -> None:
        self._received_at = asyncio.get_running_loop().time()
        try:
            for frame in self._reader.feed(data):
                self._frame(frame)
            if self._reader.broken is not None:
                raise self._reader.broken
        except wire.ProtocolError as exc:
            self._fail(InboundError(f"broker sent an invalid packet: {exc}"))
            return
        if self._inbox:
            self._readable.set()
            # QoS 1: pause reading instead of dropping; the broker keeps the rest. Not while a
            # SUBACK is due: a resumed session's backlog arrives before it and would hide it.
            full = len(self._inbox) >= self._max_queued
            if full and not self._paused and not self._waiting and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()

    def _frame(self, frame: wire.Frame) -> None:
        kind = frame.first & 0xF0
        if kind == wire.PUBLISH:
            message = wire.publish(frame)
            if len(self._inbox) >= self._max_queued and message.qos == 0:
                self._on_drop()
                return
            self._inbox.append(message)
        elif kind == wire.CONNACK:
            self._answer(0, frame.body)
        elif kind == wire.SUBACK:
            self._answer(int.from_bytes(frame.body[:2], "big"), frame.body)
        elif kind != wire.PINGRESP:
            raise wire.ProtocolError(f"unexpected packet type {kind >> 4}")

    def _answer(self, key: int, body: bytes) -> None:
        future = self._waiting.get(key)
        if future is not None and not future.done():
            future.set_result(body)

    def _lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(InboundError(f"connection lost: {_reason(exc)}" if exc else "connection closed by the broker"))

    def _fail(self, error: InboundError) -> None:
        if self._error is None:
            self._error = error
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(OSError(str(error)))
        self._readable.set()
        self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.abort() if self._error is not None else self._transport.close()
            self._transport = None


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "closed"
    return str(exc) or type(exc).__name__

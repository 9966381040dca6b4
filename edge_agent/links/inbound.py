"""The asyncio adapter of the receive-only MQTT session: sockets, timers and backpressure.

The protocol itself — packets, acknowledgement order, QoS 2, keepalive rules — is the sans-I/O
`SubscriberSession` (session.py). This layer moves bytes: one `data_received` cuts every frame
of a chunk, and every acknowledgement released in one loop iteration leaves in one `write`.
The hot inbound path (mirrors, tills, remote scanners) does not go through paho: paho parses
one packet per socket read in Python and wakes the loop per message, which was half of the
time of a durably stored mirror event. Publishing goes through paho (`client.py`).
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
from ..core.errors import LinkError
from .address import broker_address, tls_context
from .session import ConnAck, Message, SubAck, SubscriberSession
from .wire import REFUSED_CODES, ConnectionRefused

log = logging.getLogger(__name__)


class InboundError(LinkError):
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
        return cls(host, port, tls_context(config.tls) if secure else None, config.username, config.password)


class _Protocol(asyncio.Protocol):
    def __init__(self, session: InboundSession) -> None:
        self._session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._session._transport = transport

    def data_received(self, data: bytes) -> None:
        self._session._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._session._lost(exc)


class InboundSession:
    """`async with InboundSession(...) as s: await s.subscribe(...); async for m in s.messages()`.

    QoS 1 and 2 messages are acknowledged only by `ack(message)`, in arrival order. QoS 0
    messages beyond `max_queued` are dropped and reported to `on_drop`; QoS 1 and 2 messages
    are never dropped: reading pauses instead (the broker keeps them).
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
        self._core = SubscriberSession(
            client_id, clean=clean, keepalive=keepalive, username=endpoint.username, password=endpoint.password
        )
        self._max_queued = max_queued
        self._on_drop = on_drop
        self._timeout = timeout
        self._inbox: deque[Message] = deque()
        self._readable = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._error: InboundError | None = None
        self._waiting: dict[int, asyncio.Future[ConnAck | SubAck]] = {}  # CONNACK under 0, SUBACKs under their id
        self._flush_due = False
        self._tg = asyncio.TaskGroup()
        self._keeper: asyncio.Task[None] | None = None
        self.session_present = False
        self._qos2_said = False

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        ep = self._endpoint
        try:
            async with asyncio.timeout(self._timeout):
                await loop.create_connection(
                    lambda: _Protocol(self), ep.host, ep.port, ssl=ep.tls, server_hostname=ep.host if ep.tls else None
                )
                self._core.connect(loop.time())
                ack = await self._request(0)
        except InboundError as exc:
            self._close()
            raise InboundError(f"cannot connect to {ep.host}:{ep.port}: {exc}", refused=exc.refused) from exc
        except ssl.SSLCertVerificationError as exc:
            self._close()
            raise InboundError(
                f"cannot connect to {ep.host}:{ep.port}: certificate refused: {exc}", refused=True
            ) from exc
        except (OSError, TimeoutError) as exc:
            self._close()
            raise InboundError(f"cannot connect to {ep.host}:{ep.port}: {_reason(exc)}") from exc
        assert isinstance(ack, ConnAck)
        self.session_present = ack.session_present
        await self._tg.__aenter__()
        self._keeper = self._tg.create_task(self._keep_alive(), name=f"mqtt-keepalive-{self._core.client_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
        self._core.disconnect()
        self._flush()
        self._close()
        await self._tg.__aexit__(None, None, None)  # the keeper is cancelled; the caller's exception stays its own

    async def subscribe(self, filters: list[tuple[str, int]]) -> None:
        """Subscribe and wait for the SUBACK; a filter the broker refuses (e.g. by ACL) is an error."""
        try:
            async with asyncio.timeout(self._timeout):
                ack = await self._request(self._core.subscribe(filters, asyncio.get_running_loop().time()))
        except InboundError as exc:
            raise InboundError(f"subscription failed: {exc}", lost=exc.lost) from exc
        except (OSError, TimeoutError) as exc:
            self._close()
            raise InboundError(f"subscription failed: {_reason(exc)}") from exc
        assert isinstance(ack, SubAck)
        refused = [t for (t, _), code in zip(filters, ack.granted, strict=False) if code & 0x80]
        if refused:
            raise InboundError(f"broker refused the subscription to {', '.join(refused)}", refused=True)

    async def messages(self) -> AsyncIterator[Message]:
        """Received messages in order, until the connection ends (then InboundError)."""
        inbox = self._inbox
        while True:
            while inbox:
                yield inbox.popleft()
                if self._paused and len(inbox) < self._max_queued // 2 and self._transport is not None:
                    self._paused = False
                    self._core.quiet_since(asyncio.get_running_loop().time())  # silence while paused was ours
                    self._transport.resume_reading()
            if self._error is not None:
                raise self._error
            self._readable.clear()
            await self._readable.wait()

    def ack(self, message: Message) -> None:
        """The message's effects are stored; acknowledgements leave in arrival order, one write per loop turn."""
        self._core.ack(message.slot)
        if not self._flush_due and self._transport is not None:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    @property
    def unacknowledged(self) -> int:
        return self._core.unacknowledged

    def _flush(self) -> None:
        self._flush_due = False
        data = self._core.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def _request(self, key: int) -> ConnAck | SubAck:
        if self._transport is None:
            raise OSError("not connected")
        future: asyncio.Future[ConnAck | SubAck] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        self._flush()
        try:
            return await future
        finally:
            self._waiting.pop(key, None)

    async def _keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        while self._transport is not None and not self._transport.is_closing():
            await asyncio.sleep(self._core.keepalive / 4)
            self._core.tick(loop.time(), reading=not self._paused)
            self._after_input()

    def _received(self, data: bytes) -> None:
        for event in self._core.receive(data, asyncio.get_running_loop().time()):
            if isinstance(event, Message):
                if event.qos == 0 and len(self._inbox) >= self._max_queued:
                    self._on_drop()
                    continue
                self._inbox.append(event)
            else:
                future = self._waiting.get(0 if isinstance(event, ConnAck) else event.packet_id)
                if future is not None and not future.done():
                    future.set_result(event)
        self._after_input()
        if self._inbox:
            self._readable.set()
            # QoS 1: pause reading instead of dropping; the broker keeps the rest. Not while a
            # SUBACK is due: a resumed session's backlog arrives before it and would hide it.
            full = len(self._inbox) >= self._max_queued
            if full and not self._paused and not self._waiting and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()

    def _after_input(self) -> None:
        """Write what the session has to say now (PINGREQ, PUBCOMP, a repeated PUBREC); end on a violation."""
        if self._core.qos2_messages and not self._qos2_said:
            self._qos2_said = True
            log.warning(
                "broker sends QoS 2 to client %s although QoS 1 was granted; handled as QoS 2", self._core.client_id
            )
        error = self._core.error
        if isinstance(error, ConnectionRefused):
            self._fail(InboundError(str(error), refused=error.code in REFUSED_CODES, code=error.code))
        elif error is not None:
            self._fail(InboundError(f"broker sent an invalid packet: {error}"))
        elif not self._flush_due:
            self._flush()

    def _lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(
            InboundError(f"connection lost: {_reason(exc)}" if exc else "connection closed by the broker", lost=True)
        )

    def _fail(self, error: InboundError) -> None:
        if self._error is None:
            self._error = error
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(self._error)
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

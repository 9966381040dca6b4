"""An asyncio MQTT client on paho-mqtt's public API: its hooks for an external event loop.

paho speaks the protocol (3.1.1 and 5, TLS, wills, keepalive); this class owns the socket's
place in the event loop and turns paho's callbacks into awaitables — and its codes into the
project's own errors (`LinkError` with `refused`, `lost` and the reason code) where they happen.
What we need that a wrapper did not give us publicly: the PUBACK's reason code (MQTT 5), the
moment a connection ends, and a disconnect that never waits without a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, TypeVar

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ..core.errors import LinkError
from .failures import socket_error
from .wire import REFUSED_CODES

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_BATCH = 64  # packets read per wake-up at most (paho stops earlier when the socket has no more)
MAX_QUEUED = 1000  # received messages waiting for the reader; more are dropped (and counted)
SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT: another connection with our client id (§3.14.2.1)


@dataclass(frozen=True, slots=True)
class Will:
    """What the broker publishes for us when the connection is lost rather than closed."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class Received(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class Options:
    """Everything about a connection but where it goes."""

    identifier: str = ""
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    protocol: int = 4  # 4 = MQTT 3.1.1, 5 = MQTT 5
    clean_session: bool | None = None  # 3.1.1 only; None: paho's default, a clean session
    session_expiry_s: int | None = None  # MQTT 5 only
    will: Will | None = None
    keepalive: int = 30
    timeout: float = 10.0  # for CONNACK, PUBACK and SUBACK
    close_timeout: float = 3.0  # for the broker to take our DISCONNECT; then the socket is closed
    max_inflight: int | None = None


class MqttClient:
    """`async with MqttClient(host, port, Options(...)) as c: await c.publish(...)`.

    One instance is one connection. `publish` returns once the broker confirmed it (QoS 1) with
    the PUBACK's reason code; `messages()` yields what arrives until the connection ends; any
    failure is a `LinkError`.
    """

    def __init__(self, host: str, port: int, options: Options | None = None) -> None:
        self.host, self.port = host, port
        self.options = options or Options()
        self.dropped = 0
        self._paho = self._make_paho()
        self._sock: socket.socket | None = None
        self._misc: asyncio.Task[None] | None = None
        self._answered = asyncio.Event()  # CONNACK (or the connection's end before it)
        self._gone = asyncio.Event()
        self._refusal: LinkError | None = None
        self._error: LinkError | None = None  # why the connection ended, unless we ended it
        self._leaving = False
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._suback: dict[int, asyncio.Future[list[int]]] = {}
        self._queue: asyncio.Queue[Received] = asyncio.Queue(MAX_QUEUED)

    def _make_paho(self) -> paho.Client:
        o = self.options
        v5 = o.protocol == 5
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=o.identifier,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else o.clean_session,
            reconnect_on_failure=False,
        )
        if o.username is not None:
            client.username_pw_set(o.username, o.password)
        if o.tls is not None:
            client.tls_set_context(o.tls)
        if o.will is not None:
            client.will_set(o.will.topic, o.will.payload, o.will.qos, o.will.retain)
        if o.max_inflight is not None:
            client.max_inflight_messages_set(o.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        return client

    @property
    def connected(self) -> bool:
        return self._answered.is_set() and self._refusal is None and not self._gone.is_set()

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            await self._handshake()
        except BaseException:
            self._drop()
            raise
        return self

    async def _handshake(self) -> None:
        """Connect and wait for the CONNACK; every way that fails as a `LinkError`."""
        try:
            async with asyncio.timeout(self.options.timeout):
                await self._loop.run_in_executor(None, self._connect_blocking)
                await self._answered.wait()
        except TimeoutError:
            raise LinkError(f"no CONNACK from {self.host}:{self.port} within {self.options.timeout:.0f}s") from None
        except OSError as exc:
            raise socket_error(exc) from exc
        if self._refusal is not None:
            raise self._refusal
        if self._gone.is_set():  # dropped right after CONNACK: a lost session like any other
            raise self._error or LinkError("disconnected: the broker closed the connection", lost=True)

    async def __aexit__(self, *exc: object) -> None:
        self._leaving = True
        if not self._gone.is_set() and self._paho.disconnect() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            try:
                async with asyncio.timeout(self.options.close_timeout):
                    await self._gone.wait()
            except TimeoutError:
                log.warning(
                    "broker did not take the DISCONNECT within %.0fs; closing the socket", self.options.close_timeout
                )
        self._drop()

    def _connect_blocking(self) -> None:
        """paho's connect resolves, opens the socket and shakes hands: a worker thread's job."""
        properties = None
        if self.options.protocol == 5 and self.options.session_expiry_s is not None:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.options.session_expiry_s
        self._paho.connect(self.host, self.port, self.options.keepalive, properties=properties)

    def _drop(self) -> None:
        """Forget the socket (closing it if paho has not), fail whoever still waits."""
        sock, self._sock = self._sock, None
        if sock is not None:
            self._unwatch(sock)
            sock.close()
        if self._misc is not None:
            self._misc.cancel()
        self._ended(self._error or LinkError("connection closed", lost=not self._leaving))

    async def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> int:
        """The reason code the broker confirmed it with (0 for QoS 0 and MQTT 3.1.1's PUBACK)."""
        self._raise_if_gone()
        info = self._paho.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise self._error or LinkError(f"publish not sent: {paho.error_string(info.rc)}", lost=True)
        # With an external loop paho writes nothing inside publish(): the confirmation comes later.
        return await self._answer(self._pending, info.mid, f"{topic}: no PUBACK")

    async def subscribe(self, filters: str | Sequence[tuple[str, int]], qos: int = 0) -> list[int]:
        """The QoS granted per filter (0x80 and above: refused)."""
        self._raise_if_gone()
        wanted = [(filters, qos)] if isinstance(filters, str) else list(filters)
        rc, mid = self._paho.subscribe(wanted)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise self._error or LinkError(f"subscribe not sent: {paho.error_string(rc)}", lost=True)
        return await self._answer(self._suback, mid, "no SUBACK")

    async def _answer(self, waiting: dict[int, asyncio.Future[T]], mid: int, missing: str) -> T:
        """The broker's answer to packet `mid`, within the timeout (`missing` says what did not come)."""
        done = waiting[mid] = self._loop.create_future()
        try:
            async with asyncio.timeout(self.options.timeout):
                answer: T = await done
                return answer
        except TimeoutError:
            raise LinkError(f"{missing} within {self.options.timeout:.0f}s") from None
        finally:
            waiting.pop(mid, None)

    async def messages(self) -> AsyncIterator[Received]:
        """What arrives, until the connection ends (then `LinkError`, lost) or we close it."""
        while True:
            while not self._queue.empty():
                yield self._queue.get_nowait()
            if self._gone.is_set():
                if self._leaving:
                    return
                raise self._error or LinkError("disconnected", lost=True)
            getting = asyncio.ensure_future(self._queue.get())
            gone = asyncio.ensure_future(self._gone.wait())
            try:
                await asyncio.wait([getting, gone], return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone.cancel()
                if not getting.done():
                    getting.cancel()
            if getting.done() and not getting.cancelled():
                yield getting.result()

    async def closed(self) -> None:
        """Return when the connection has ended, for whatever reason."""
        await self._gone.wait()

    def _raise_if_gone(self) -> None:
        if self._gone.is_set():
            raise self._error or LinkError("not connected", lost=True)

    def _ended(self, error: LinkError) -> None:
        if not self._gone.is_set():
            self._error = None if self._leaving else error
            self._gone.set()
            self._answered.set()
        waiters: list[asyncio.Future[Any]] = [*self._pending.values(), *self._suback.values()]
        for waiting in waiters:
            if not waiting.done():
                waiting.set_exception(self._error or error)
                waiting.exception()  # the waiter may have timed out already: never "never retrieved"

    # --- paho's callbacks (on the event loop, except the socket's opening: see _on_socket_open)

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            code = int(reason.value)
            self._refusal = LinkError(
                f"connection refused: {reason} ({code:#04x})", refused=code in REFUSED_CODES, code=code
            )
        self._answered.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if not self._answered.is_set():  # e.g. a broker that will not speak this protocol version
            self._ended(LinkError(f"{self.host}:{self.port} closed the connection before its CONNACK"))
            return
        code = int(reason.value)
        refused = code in REFUSED_CODES
        error = LinkError(
            f"disconnected: {reason} ({code:#04x})",
            refused=refused,
            lost=not refused,
            conflict=code == SESSION_TAKEN_OVER,
            code=code,
        )
        self._ended(error)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _props: Any) -> None:
        code = int(getattr(reason, "value", 0))
        waiting = self._pending.get(mid)
        if waiting is not None and not waiting.done():  # None: its publish() gave up waiting
            waiting.set_result(code)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _props: Any) -> None:
        waiting = self._suback.get(mid)
        if waiting is not None and not waiting.done():
            waiting.set_result([int(r.value) for r in reasons])

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            self._queue.put_nowait(Received(message.topic, bytes(message.payload), message.qos, bool(message.retain)))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("%d received messages dropped: nobody reads them fast enough", self.dropped)

    def _on_loop(self, callback: Callable[[socket.socket], None], sock: socket.socket) -> None:
        """Run `callback` on the event loop: now when paho calls from it, else (during paho's
        connect, in the worker thread) handed over thread-safely."""
        if threading.get_ident() == self._loop_thread:
            callback(sock)
        else:
            self._loop.call_soon_threadsafe(callback, sock)

    def _on_socket_open(self, _c: Any, _u: Any, sock: Any) -> None:
        self._on_loop(self._watch, sock)

    def _watch(self, sock: socket.socket) -> None:
        if self._gone.is_set():  # given up on (a timeout, a cancel) while paho was still connecting
            sock.close()
            return
        self._sock = sock
        self._loop.add_reader(sock.fileno(), self._readable)
        self._misc = self._loop.create_task(self._keep_alive(), name=f"mqtt-keepalive {self.options.identifier}")

    def _readable(self) -> None:
        try:
            # Everything the socket holds, not one packet per wake-up (paho's loop_read reads one):
            # a CONNACK and the close right behind it are one reading, so a session that never
            # stood fails to connect instead of passing for a session taken over.
            for _ in range(READ_BATCH):
                self._paho.loop_read()
                if self._sock is None or not _more(self._sock):
                    break
        except OSError as exc:
            self._ended(socket_error(exc))
            self._drop()

    def _on_socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        if sock is self._sock and sock is not None:
            self._unwatch(sock)
            self._sock = None
        if self._misc is not None:
            self._misc.cancel()

    def _unwatch(self, sock: socket.socket) -> None:
        fileno = sock.fileno()
        if fileno >= 0:
            self._loop.remove_reader(fileno)
            self._loop.remove_writer(fileno)

    def _on_socket_register_write(self, _c: Any, _u: Any, sock: Any) -> None:
        self._on_loop(self._writable_watch, sock)

    def _writable_watch(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self._loop.add_writer(sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            self._paho.loop_write()
        except OSError as exc:
            self._ended(socket_error(exc))
            self._drop()

    def _on_socket_unregister_write(self, _c: Any, _u: Any, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            if sock.fileno() >= 0:
                self._loop.remove_writer(sock.fileno())

    async def _keep_alive(self) -> None:
        """paho's timers (PINGREQ, a PINGRESP overdue): a few wake-ups per keepalive, not one a second."""
        tick = max(1.0, self.options.keepalive / 10)
        while self._paho.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 (a timer, not a wait)
            await asyncio.sleep(tick)


def _more(sock: socket.socket) -> bool:
    """Whether another read would find something (bytes, or the peer's close) without waiting."""
    if isinstance(sock, ssl.SSLSocket):  # decrypted bytes the kernel no longer signals
        return sock.pending() > 0
    try:
        sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return False
    return True

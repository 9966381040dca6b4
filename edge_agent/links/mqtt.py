"""The store-broker link for publishing: one connection, queued publishes, reconnect with backoff."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiomqtt

from ..config.agent import MqttConfig, TlsConfig
from ..core.tasks import cancel_and_wait
from .backoff import Link

log = logging.getLogger(__name__)


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if tls.cert:
        ctx.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    return ctx


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, TLS?) of an `mqtt://` or `mqtts://` URL, with the standard ports."""
    parts = urlsplit(url)
    secure = parts.scheme == "mqtts"
    return parts.hostname or "127.0.0.1", parts.port or (8883 if secure else 1883), secure


def make_client(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: TlsConfig | None = None,
    identifier: str | None = None,
    clean_session: bool | None = None,
    timeout: float = 10.0,
) -> aiomqtt.Client:
    """An aiomqtt client for an `mqtt://` or `mqtts://` URL."""
    host, port, secure = broker_address(url)
    return aiomqtt.Client(
        host,
        port,
        username=username,
        password=password,
        identifier=identifier,
        clean_session=clean_session,
        tls_context=tls_context(tls or TlsConfig()) if secure else None,
        timeout=timeout,
        keepalive=30,
    )


def store_client(config: MqttConfig, identifier: str, **options: Any) -> aiomqtt.Client:
    """A client for the store broker with the config's credentials and TLS."""
    return make_client(
        config.url,
        username=config.username,
        password=config.password,
        tls=config.tls,
        identifier=identifier,
        **options,
    )


@asynccontextmanager
async def connected(client: aiomqtt.Client, *, close_timeout: float = 3.0) -> AsyncIterator[aiomqtt.Client]:
    """`async with client`, except that leaving never hangs and never masks why we left.

    aiomqtt waits without a limit for paho to confirm the DISCONNECT, and raises if the
    disconnect itself fails; either would turn a cancellation into a hang. We give the
    disconnect `close_timeout`, then drop the socket, and swallow errors of the disconnect.
    """
    await client.__aenter__()
    try:
        yield client
    finally:
        try:
            async with asyncio.timeout(close_timeout):
                await client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            # The connection is going away in any case; an error here must not replace the
            # exception we are leaving with (a CancelledError lost here hangs shutdown).
            pass
        except TimeoutError:
            log.warning("broker did not confirm the disconnect within %.0fs; closing the socket", close_timeout)
            sock = client._client.socket()
            if sock is not None:
                sock.close()


def consume_disconnect_reason(client: aiomqtt.Client) -> None:
    """Mark aiomqtt's internal disconnect future as seen; we already handled the MqttError."""
    future = getattr(client, "_disconnected", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    on_sent: Callable[[], Awaitable[None]] | None = None  # after the broker confirmed (PUBACK for QoS 1)


class MqttPublisher:
    """Publishes queued messages to the store broker; waits out outages with backoff."""

    def __init__(self, config: MqttConfig, *, client_id: str, queue_size: int = 1000) -> None:
        self._config = config
        self._client_id = client_id
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(queue_size)
        self._tg = asyncio.TaskGroup()
        self._task: asyncio.Task[None] | None = None
        self.link = Link(f"store broker {config.url}", initial=0.5, cap=30.0, logger=log)
        self.published = 0
        self.dropped = 0

    async def __aenter__(self) -> Self:
        await self._tg.__aenter__()
        self._task = self._tg.create_task(self._run(), name="mqtt-publisher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        await self._tg.__aexit__(exc_type, exc, tb)
        self.link.stopped()

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, on_sent: Callable[[], Awaitable[None]] | None = None
    ) -> bool:
        """Queue a message; False (and counted) if the queue is full."""
        try:
            self._queue.put_nowait(Outgoing(topic, payload, qos, on_sent=on_sent))
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        pending: Outgoing | None = None
        while True:
            self.link.connecting()
            client = store_client(self._config, self._client_id)
            try:
                async with connected(client):
                    self.link.up()
                    while True:
                        if pending is None:
                            pending = await self._queue.get()
                        await client.publish(pending.topic, pending.payload, qos=pending.qos, retain=pending.retain)
                        self.published += 1
                        sent, pending = pending, None
                        if sent.on_sent is not None:
                            await sent.on_sent()
            except aiomqtt.MqttError as exc:
                await self.link.retry_after(exc)
            finally:
                consume_disconnect_reason(client)

"""Uplink transports: a tiny protocol, MQTT and HTTPS implementations, and a mock beside them.

A transport opens one connection at a time (`connect()`); the connection's `send()` returns
only once the other side has acknowledged the batch, and `closed()` returns when the
connection went away while idle, so the uplink's link shows the truth between sends.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import aiohttp
import aiomqtt

from ..config.agent import UplinkConfig
from ..core.errors import LinkError
from ..links.address import tls_context
from ..links.mqtt import connected, make_client, until_disconnected

MAX_RETRY_AFTER_S = 300.0


class UplinkError(LinkError):
    """A batch was not accepted; `retry_after` is the server's wish, if it said one."""

    recorded = False  # the outbox already knows (its batch's attempt was counted)


class Connection(Protocol):
    async def send(self, batch_id: str, payload: bytes) -> None: ...

    async def closed(self) -> None:
        """Return when the connection is gone (never, for connectionless transports)."""
        ...


class Transport(Protocol):
    """Opens connections to the cloud, one at a time."""

    def connect(self) -> AbstractAsyncContextManager[Connection]: ...


class _Forever:
    async def closed(self) -> None:
        await asyncio.Event().wait()


class _MqttConnection:
    def __init__(self, client: aiomqtt.Client, topic: str) -> None:
        self._client = client
        self._topic = topic

    async def send(self, batch_id: str, payload: bytes) -> None:
        try:
            await self._client.publish(self._topic, payload, qos=1, timeout=10)
        except aiomqtt.MqttError as exc:
            raise UplinkError(f"mqtt: {exc}", lost=True) from None

    async def closed(self) -> None:
        try:
            await until_disconnected(self._client)
        except aiomqtt.MqttError:
            return


class MqttTransport:
    """QoS 1 publish to `uplink.topic`, over TLS with a client certificate when configured."""

    def __init__(self, config: UplinkConfig, store_id: str, *, client_id: str | None = None) -> None:
        self._config = config
        self._topic = config.topic.format(store_id=store_id)
        self.client_id = client_id or f"edge-agent-{store_id}-uplink"

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        client = make_client(self._config.url, tls=self._config.tls, identifier=self.client_id, timeout=10)
        async with connected(client):
            yield _MqttConnection(client, self._topic)


class _HttpsConnection(_Forever):
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def send(self, batch_id: str, payload: bytes) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": batch_id}
        try:
            async with self._session.post(self._url, data=payload, headers=headers) as response:
                if 200 <= response.status < 300 or response.status == 409:  # 409: already have it
                    return
                retry = retry_after(response.headers.get("Retry-After"))
                refused = response.status in (401, 403)
                raise UplinkError(f"https: {response.status} {response.reason}", retry_after=retry, refused=refused)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UplinkError(f"https: {type(exc).__name__}: {exc}") from None


class HttpsTransport:
    """`POST` the batch as JSON with `Idempotency-Key: <batch_id>`; honours 429/503 Retry-After."""

    def __init__(self, config: UplinkConfig) -> None:
        self._config = config

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        ssl = tls_context(self._config.tls) if self._config.url.startswith("https") else None
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), connector=aiohttp.TCPConnector(ssl=ssl if ssl else False)
        )
        async with session:
            yield _HttpsConnection(session, self._config.url)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most 5 minutes."""
    if not value:
        return None
    if value.strip().isdigit():
        return min(float(value.strip()), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER_S)


class MockTransport(_Forever):
    """Keeps what it is sent; `fail` makes the next sends raise (tests and benchmarks)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.fail: UplinkError | None = None
        self.delivered = asyncio.Event()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        yield self

    async def send(self, batch_id: str, payload: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((batch_id, payload))
        self.delivered.set()


def transport_for(config: UplinkConfig, store_id: str) -> Transport | None:
    if config.kind == "mqtt":
        return MqttTransport(config, store_id)
    if config.kind == "https":
        return HttpsTransport(config)
    return None

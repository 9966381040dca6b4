"""Uplink transports: a tiny protocol, MQTT and HTTPS implementations, and a mock beside them."""

from __future__ import annotations

import asyncio
import email.utils
import time
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, Self

import aiohttp
import aiomqtt

from ..config.agent import UplinkConfig
from ..core.errors import EdgeAgentError
from ..core.lifecycle import Resource
from ..links.mqtt import connected, consume_disconnect_reason, make_client, tls_context


class UplinkError(EdgeAgentError):
    """A batch was not accepted; `retry_after` is the server's wish, if it said one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transport(Protocol):
    """Delivers one batch; returns only once the other side has acknowledged it."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def send(self, batch_id: str, payload: bytes) -> None: ...


class MqttTransport:
    """QoS 1 publish to `uplink.topic`, over TLS with a client certificate when configured."""

    def __init__(self, config: UplinkConfig, store_id: str, *, client_id: str | None = None) -> None:
        self._config = config
        self._topic = config.topic.format(store_id=store_id)
        self._client_id = client_id or f"edge-agent-{store_id}-uplink"
        self._client: aiomqtt.Client | None = None
        self._session: AbstractAsyncContextManager[aiomqtt.Client] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._drop()

    async def _drop(self) -> None:
        if self._session is not None:
            session, client = self._session, self._client
            self._session = self._client = None
            await session.__aexit__(None, None, None)
            if client is not None:
                consume_disconnect_reason(client)

    async def send(self, batch_id: str, payload: bytes) -> None:
        try:
            if self._client is None:
                client = make_client(self._config.url, tls=self._config.tls, identifier=self._client_id, timeout=10)
                session = connected(client)
                self._client = await session.__aenter__()
                self._session = session
            await self._client.publish(self._topic, payload, qos=1, timeout=10)
        except (aiomqtt.MqttError, OSError) as exc:
            await self._drop()
            raise UplinkError(f"mqtt: {exc}") from None


class HttpsTransport:
    """`POST` the batch as JSON with `Idempotency-Key: <batch_id>`; honours 429/503 Retry-After."""

    def __init__(self, config: UplinkConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        ssl = tls_context(self._config.tls) if self._config.url.startswith("https") else None
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), connector=aiohttp.TCPConnector(ssl=ssl if ssl else False)
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, batch_id: str, payload: bytes) -> None:
        assert self._session is not None
        headers = {"Content-Type": "application/json", "Idempotency-Key": batch_id}
        try:
            async with self._session.post(self._config.url, data=payload, headers=headers) as response:
                if 200 <= response.status < 300 or response.status == 409:  # 409: already have it
                    return
                retry = retry_after(response.headers.get("Retry-After"))
                raise UplinkError(f"https: {response.status} {response.reason}", retry)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UplinkError(f"https: {type(exc).__name__}: {exc}") from None


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class MockTransport(Resource):
    """Keeps what it is sent; `fail` makes the next sends raise (tests and benchmarks)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.fail: UplinkError | None = None
        self.delivered = asyncio.Event()

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

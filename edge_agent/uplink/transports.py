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
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

import aiohttp
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from ..config.agent import UplinkConfig
from ..core.errors import LinkError
from ..links.address import broker_address, tls_context
from ..links.client import MqttClient
from ..links.mqtt import make_client

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


# MQTT 5 PUBACK reasons (§3.4.2.1) the uplink acts upon; every code >= 0x80 is a refusal.
QUOTA_EXCEEDED, PAYLOAD_FORMAT_INVALID, NOT_AUTHORIZED, TOPIC_NAME_INVALID = 0x97, 0x99, 0x87, 0x90
QUOTA_BACKOFF_S = 60.0


def refusal(code: int, name: str) -> UplinkError | None:
    """What a PUBACK reason means for the batch: None when the broker took it (0x10, "no
    matching subscribers", is a success), else the error the uplink's link backs off on."""
    if code < 0x80:
        return None
    text = f"mqtt: the broker refused the batch: {name} (0x{code:02x})"
    if code == QUOTA_EXCEEDED:
        return UplinkError(text, retry_after=QUOTA_BACKOFF_S)
    # Sending the same batch again soon will get the same answer: wait long, say it once.
    return UplinkError(text, refused=code in (NOT_AUTHORIZED, TOPIC_NAME_INVALID, PAYLOAD_FORMAT_INVALID))


class _MqttConnection:
    def __init__(self, client: MqttClient, topic: str) -> None:
        self._client = client
        self._topic = topic

    async def send(self, batch_id: str, payload: bytes) -> None:
        try:
            code = await self._client.publish(self._topic, payload, qos=1)
        except LinkError as exc:
            raise UplinkError(f"mqtt: {exc}", lost=True, code=exc.code) from None
        refused = refusal(code, _reason_name(code))
        if refused is not None:
            raise refused

    async def closed(self) -> None:
        await self._client.closed()


def _reason_name(code: int) -> str:
    """The MQTT 5 name of a PUBACK reason code (MQTT 3.1.1's PUBACK has none: 0)."""
    if code == 0:
        return "Success"
    return str(ReasonCode(PacketTypes.PUBACK, identifier=code))


# CONNACK codes for "I do not speak this protocol version": 3.1.1's 0x01 and MQTT 5's 0x84
_UNSUPPORTED_VERSION = frozenset({0x01, 0x84})


async def _not_mqtt5(exc: LinkError, url: str) -> BaseException:
    """An MQTT 5 CONNECT the broker would not take, in one line that says what to change.

    Brokers without MQTT 5 answer it three ways: a CONNACK refusing the version (mosquitto,
    NATS), closing the socket, or no answer at all (RabbitMQ before 3.13). The last looks like a
    timeout; a broker that accepts TCP at once but never answered the CONNECT is that case.
    """
    code = exc.code
    if code in _UNSUPPORTED_VERSION:
        return UplinkError(
            f"mqtt: the cloud broker does not speak MQTT 5 (CONNACK {code:#04x}); set uplink.protocol: 4", refused=True
        )
    if code is None and await _accepts_tcp(url):
        return UplinkError(
            f"mqtt: the cloud broker took the connection but not the MQTT 5 CONNECT ({exc}); "
            "if it speaks only MQTT 3.1.1, set uplink.protocol: 4"
        )
    return exc


async def _accepts_tcp(url: str) -> bool:
    host, port, _ = broker_address(url)
    try:
        async with asyncio.timeout(2.0):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


class MqttTransport:
    """QoS 1 publish to `uplink.topic`, over TLS with a client certificate when configured."""

    def __init__(self, config: UplinkConfig, store_id: str, *, client_id: str | None = None) -> None:
        self._config = config
        self._topic = config.topic.format(store_id=store_id)
        self.client_id = client_id or f"edge-agent-{store_id}-uplink"

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        v5 = self._config.protocol == 5
        client = make_client(
            self._config.url,
            tls=self._config.tls,
            identifier=self.client_id,
            timeout=10,
            protocol=self._config.protocol,
            # The uplink subscribes to nothing and resends from its outbox: no session to keep.
            session_expiry_s=0 if v5 else None,
        )
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(client)
            except LinkError as exc:
                if v5:
                    raise await _not_mqtt5(exc, self._config.url) from exc
                raise
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

"""Where batches come from: the chain's MQTT broker or NATS JetStream, one interface for both.

A consumer is an async context manager whose `messages()` yields `Delivery` objects; a delivery
is acknowledged (`await delivery.ack()`) only after its batch is committed, so a worker killed
at any moment leaves its unacknowledged batches to be delivered again.

MQTT: a persistent QoS 1 session (clean session off, a fixed client id per worker) through the
project's own receive-only session (`links/inbound.py`), whose acknowledgements leave in arrival
order; with several workers, a `$share/<group>/` subscription on brokers that have one (mosquitto,
EMQX, HiveMQ). NATS: a JetStream durable pull consumer on a stream that captures the boxes'
subject (`retail.*.aggregates`, what NATS's MQTT listener makes of `retail/+/aggregates`); the
stream is created when missing; workers sharing the durable share the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..links.inbound import Endpoint, InboundSession

STREAM = "EDGE_AGGREGATES"
DURABLE = "fleet-land"


@dataclass(frozen=True, slots=True)
class Delivery:
    payload: bytes
    ack: Callable[[], Awaitable[None]]
    redelivered: bool = False


Consumer = Callable[[], AbstractAsyncContextManager[AsyncIterator[Delivery]]]


def nats_subject(topic: str) -> str:
    """`retail/+/aggregates` as NATS names it: levels joined by `.`, `+` as `*`, `#` as `>`."""
    return ".".join({"+": "*", "#": ">"}.get(level, level) for level in topic.split("/"))


def mqtt_consumer(url: str, topic: str, client_id: str, group: str | None) -> Consumer:
    parts = urlsplit(url)
    endpoint = Endpoint(parts.hostname or "127.0.0.1", parts.port or 1883, None, parts.username, parts.password)
    subscription = f"$share/{group}/{topic}" if group else topic

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncIterator[Delivery]]:
        async with InboundSession(endpoint, client_id, clean=False, max_queued=2000) as session:
            await session.subscribe([(subscription, 1)])

            async def deliveries() -> AsyncIterator[Delivery]:
                async for message in session.messages():

                    async def ack(message: Any = message) -> None:
                        session.ack(message)

                    yield Delivery(message.payload, ack)

            yield deliveries()

    return connect


def _acker(msg: Any) -> Callable[[], Awaitable[None]]:
    async def ack() -> None:
        await msg.ack_sync()  # waits for the server: an ack lost on the way means a redelivery, not a gap

    return ack


def nats_consumer(url: str, topic: str, durable: str = DURABLE, batch: int = 50) -> Consumer:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
    from nats.js.errors import NotFoundError

    subject = nats_subject(topic)

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncIterator[Delivery]]:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
        try:
            js = nc.jetstream()
            try:
                await js.stream_info(STREAM)
            except NotFoundError:
                await js.add_stream(StreamConfig(name=STREAM, subjects=[subject]))
            config = ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=2000
            )
            sub = await js.pull_subscribe(subject, durable=durable, stream=STREAM, config=config)

            async def deliveries() -> AsyncIterator[Delivery]:
                while True:
                    try:
                        msgs = await sub.fetch(batch, timeout=1.0)
                    except nats.errors.TimeoutError:
                        if nc.is_closed:
                            raise ConnectionError("NATS connection closed") from None
                        continue
                    for msg in msgs:
                        redelivered = bool(msg.metadata.num_delivered and msg.metadata.num_delivered > 1)
                        yield Delivery(msg.data, _acker(msg), redelivered)

            yield deliveries()
        finally:
            await asyncio.shield(nc.close())

    return connect

"""The receive-only MQTT session against a real mosquitto: acks, redelivery, refusal, loss, drops."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.config.agent import MqttConfig, TlsConfig
from edge_agent.links import wire
from edge_agent.links.inbound import Endpoint, InboundError, InboundSession
from edge_agent.links.wire import Publish
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.testing.pki import Pki


async def publish(port: int, topic: str, count: int, qos: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=1000) as client:
        for i in range(count):
            await client.publish(topic, f"m{i}".encode(), qos=qos)


async def take(session: InboundSession, count: int) -> list[Publish]:
    out: list[Publish] = []
    async with asyncio.timeout(20):
        async for message in session.messages():
            out.append(message)
            if len(out) == count:
                return out
    return out


def session(broker: MosquittoBroker, **options: object) -> InboundSession:
    return InboundSession(Endpoint("127.0.0.1", broker.port), "edge-test", **options)  # type: ignore[arg-type]


async def test_only_unacknowledged_messages_come_back_after_a_reconnect(mqtt_broker: MosquittoBroker) -> None:
    async with session(mqtt_broker, clean=False) as s:
        await s.subscribe([("t/#", 1)])
    await publish(mqtt_broker.port, "t/a", 10, qos=1)
    async with session(mqtt_broker, clean=False) as s:
        await s.subscribe([("t/#", 1)])
        first = await take(s, 10)
        for message in first[:6]:
            s.ack(message)  # six acks of one loop iteration leave in one write
        # A round trip proves the broker read them: it may take the next connection before it
        # reads the rest of this one (then it discards it, and redelivers: at least once).
        await s.subscribe([("t/#", 1)])
    async with session(mqtt_broker, clean=False) as s:
        await s.subscribe([("t/#", 1)])
        again = await take(s, 4)
        for message in again:
            s.ack(message)
    assert [m.payload for m in first] == [f"m{i}".encode() for i in range(10)]
    assert [m.payload for m in again] == [b"m6", b"m7", b"m8", b"m9"]


async def test_a_refused_login_says_why(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    with MosquittoBroker(extra_config=f"allow_anonymous false\npassword_file {passwd}\n") as broker:
        s = InboundSession(Endpoint("127.0.0.1", broker.port, username="x", password="y"), "edge-test", clean=True)
        with pytest.raises(InboundError, match=r"not authorised|bad user name"):
            await s.__aenter__()


async def test_a_broker_that_goes_away_ends_the_message_stream(mqtt_broker: MosquittoBroker) -> None:
    async with session(mqtt_broker, clean=True) as s:
        await s.subscribe([("t/#", 0)])
        mqtt_broker.stop()
        with pytest.raises(InboundError, match="connection"):
            await take(s, 1)


async def test_a_frozen_broker_is_noticed_by_keepalive(mqtt_broker: MosquittoBroker) -> None:
    async with session(mqtt_broker, clean=True, keepalive=1) as s:
        await s.subscribe([("t/#", 0)])
        pid = mqtt_broker._proc.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(InboundError, match="keepalive"):
                await take(s, 1)
        finally:
            os.kill(pid, signal.SIGCONT)


async def test_qos0_beyond_the_queue_is_dropped_and_every_drop_counted(mqtt_broker: MosquittoBroker) -> None:
    drops: list[int] = []
    async with session(mqtt_broker, clean=True, max_queued=50, on_drop=lambda: drops.append(1)) as s:
        await s.subscribe([("t/#", 0)])
        await publish(mqtt_broker.port, "t/a", 2000, qos=0)
        received = 0
        async with asyncio.timeout(20):
            async for _ in s.messages():
                received += 1
                if received + len(drops) == 2000:
                    break
                if received % 10 == 0:
                    await asyncio.sleep(0.01)  # a slow consumer: the queue fills
    assert drops and received + len(drops) == 2000


async def test_a_resumed_session_with_a_backlog_larger_than_the_queue_still_subscribes(
    mqtt_broker: MosquittoBroker,
) -> None:
    """mosquitto sends a resumed session its whole backlog before the SUBACK; reading pauses only after it."""
    async with session(mqtt_broker, clean=False) as s:
        await s.subscribe([("t/#", 1)])
    await publish(mqtt_broker.port, "t/a", 600, qos=1)
    async with session(mqtt_broker, clean=False, max_queued=100) as s:
        await s.subscribe([("t/#", 1)])
        first = await take(s, 50)
        for message in first:
            s.ack(message)
        # A round trip: the broker answers it only after reading the PUBACKs sent before it (an
        # abort right after the write can reset the connection before mosquitto has read them).
        await s.subscribe([("sync/none", 1)])
        assert s._transport is not None
        s._transport.abort()  # killed with 550 unacknowledged
    async with session(mqtt_broker, clean=False, max_queued=100) as s:
        await s.subscribe([("t/#", 1)])
        rest = await take(s, 550)
        for message in rest:
            s.ack(message)
    assert sorted(int(m.payload[1:]) for m in rest) == list(range(50, 600))


async def test_tls_with_a_client_certificate_as_the_config_describes_it(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    with MosquittoBroker(tls=pki.server, workdir=tmp_path) as broker:
        tls = TlsConfig(ca=pki.ca_pem, cert=pki.client_cert, key=pki.client_key)
        endpoint = Endpoint.of(MqttConfig(url=broker.url, tls=tls))
        assert endpoint.tls is not None
        async with InboundSession(endpoint, "edge-tls", clean=True) as s:
            await s.subscribe([("t/#", 1)])
            async with aiomqtt.Client("127.0.0.1", broker.port, tls_context=pki.context()) as client:
                await client.publish("t/a", b"over tls", qos=1)
            (message,) = await take(s, 1)
            s.ack(message)
        assert message.payload == b"over tls"
        wrong = Endpoint.of(MqttConfig(url=broker.url))  # no client certificate: refused
        with pytest.raises(InboundError):
            await InboundSession(wrong, "edge-tls-2", clean=True).__aenter__()


async def _session_against(replies: bytes, received: list[Publish]) -> None:
    """A stand-in broker that accepts, answers CONNACK and SUBACK, sends `replies`, hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")
        await reader.read(1024)  # SUBSCRIBE
        writer.write(b"\x90\x03\x00\x01\x01" + replies)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with InboundSession(Endpoint("127.0.0.1", port), "fuzz", clean=True, timeout=5) as s:
            await s.subscribe([("t/#", 1)])
            async with asyncio.timeout(5):
                async for message in s.messages():
                    received.append(message)
    finally:
        server.close()
        await server.wait_closed()


frames = st.builds(lambda t: ("frame", wire.publish_packet(t, b"{}")), st.text(max_size=8))
junk = st.builds(lambda b: ("junk", b), st.binary(max_size=64))


@given(st.lists(st.one_of(frames, junk), max_size=8))
@settings(max_examples=60, deadline=None)
def test_whatever_a_broker_sends_ends_in_messages_or_an_inbound_error(chunks: list[tuple[str, bytes]]) -> None:
    """Valid frames, garbage and cut frames, then the broker hangs up: the stream always ends in
    an InboundError (never another exception, never a hang), and the valid frames before the
    first garbage are delivered."""
    received: list[Publish] = []
    with pytest.raises(InboundError):
        asyncio.run(_session_against(b"".join(data for _, data in chunks), received))
    leading = next((i for i, (kind, _) in enumerate(chunks) if kind == "junk"), len(chunks))
    assert len(received) >= leading

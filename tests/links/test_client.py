"""The MQTT client on paho's public API: every CONNACK, PUBACK and close comes out as the
project's own error with its code, where it happens; nothing waits without a limit; hostile bytes
from a broker end the connection, never the caller. Scripted loopback brokers say exactly what
a broker would (MQTT 3.1.1 §3.2, MQTT 5 §3.2 and §3.4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.core.errors import LinkError
from edge_agent.links.client import MAX_QUEUED, MqttClient, Options
from edge_agent.links.wire import REFUSED_CODES
from edge_agent.testing.strict_broker import StrictBroker
from edge_agent.testing.wait import eventually

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One MQTT packet: its first byte and its body."""
    first = (await reader.readexactly(1))[0]
    size, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        size |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first, await reader.readexactly(size)


@asynccontextmanager
async def broker(script: Script) -> AsyncIterator[int]:
    """A loopback broker that runs `script` for each connection; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def connack(code: int, *, v5: bool) -> bytes:
    return bytes([0x20, 3, 0, code, 0]) if v5 else bytes([0x20, 2, 0, code])


def answering(*replies: bytes, then: Script | None = None) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await packet(reader)  # CONNECT
        for reply in replies:
            writer.write(reply)
        await writer.drain()
        if then is not None:
            await then(reader, writer)

    return script


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client closes


@pytest.mark.parametrize(
    ("code", "v5"), [(2, False), (4, False), (5, False), *[(c, True) for c in (0x85, 0x86, 0x87, 0x8A, 0x8C)]]
)
async def test_every_refusing_connack_is_a_refusal_with_its_code(code: int, v5: bool) -> None:
    async with broker(answering(connack(code, v5=v5))) as port:
        with pytest.raises(LinkError) as refused:
            async with MqttClient("127.0.0.1", port, Options("box-1", protocol=5 if v5 else 4)):
                pass
    # paho reports 3.1.1's return codes as MQTT 5's reason codes; both are in the one table
    assert refused.value.refused and not refused.value.lost
    assert refused.value.code in REFUSED_CODES


# (3.1.1's return code 1 is left out: paho answers it by trying MQTT 3.1, as 3.1.1 §3.1.2.2 invites.)
@pytest.mark.parametrize(("code", "v5"), [(3, False), (0x80, True), (0x88, True), (0x89, True), (0x97, True)])
async def test_other_connack_codes_are_retried_at_the_normal_pace(code: int, v5: bool) -> None:
    async with broker(answering(connack(code, v5=v5))) as port:
        with pytest.raises(LinkError) as refused:
            async with MqttClient("127.0.0.1", port, Options("box-1", protocol=5 if v5 else 4)):
                pass
    assert not refused.value.refused and refused.value.code is not None


async def test_a_broker_that_drops_the_session_right_after_connack_fails_the_connect() -> None:
    async with broker(answering(connack(0, v5=False))) as port:  # then closes
        with pytest.raises(LinkError) as lost:
            async with MqttClient("127.0.0.1", port, Options("box-1")):
                pass
    assert lost.value.lost


async def test_a_broker_that_closes_before_connack_says_so_without_a_code() -> None:
    """How brokers without MQTT 5 answer an MQTT 5 CONNECT, among others: the uplink explains it."""
    async with broker(answering()) as port:
        with pytest.raises(LinkError, match="before its CONNACK") as closed:
            async with MqttClient("127.0.0.1", port, Options("box-1", protocol=5)):
                pass
    assert closed.value.code is None and not closed.value.refused


async def test_a_broker_that_never_answers_the_connect_is_given_up_on() -> None:
    async with broker(answering(then=hold)) as port:
        with pytest.raises(LinkError, match="no CONNACK") as silent:
            async with MqttClient("127.0.0.1", port, Options("box-1", timeout=0.5)):
                pass
    assert silent.value.code is None


async def test_a_refused_socket_is_lost_not_refused() -> None:
    async with broker(answering()) as port:
        pass  # closed: nothing listens there now
    with pytest.raises(LinkError) as down:
        async with MqttClient("127.0.0.1", port, Options("box-1")):
            pass
    assert down.value.lost and not down.value.refused


def v5_pubacks(*reasons: bytes) -> Script:
    """After CONNACK, answer each PUBLISH with a PUBACK carrying the next of `reasons` (b"": none)."""

    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reason in reasons:
            first, body = await packet(reader)
            assert first & 0xF0 == 0x30
            topic_end = 2 + int.from_bytes(body[:2], "big")
            mid = body[topic_end : topic_end + 2]
            writer.write(bytes([0x40, 2 + len(reason)]) + mid + reason)
        await hold(reader, writer)

    return answering(connack(0, v5=True), then=then)


async def test_publish_returns_the_pubacks_reason_code() -> None:
    """MQTT 5 §3.4.2.1: a PUBACK of remaining length 2 means success; 0x10 is a success too."""
    pubacks = v5_pubacks(b"\x97", b"", b"\x10", b"\x87\x00")
    async with broker(pubacks) as port, MqttClient("127.0.0.1", port, Options("up-1", protocol=5)) as client:
        codes = [await client.publish("t", b"x", qos=1) for _ in range(4)]
    assert codes == [0x97, 0, 0x10, 0x87]


async def test_a_broker_that_never_takes_the_disconnect_has_its_socket_closed() -> None:
    saw_close = asyncio.Event()

    async def stubborn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await packet(reader)  # the DISCONNECT, which it ignores
        await reader.read()
        saw_close.set()

    async with broker(answering(connack(0, v5=False), then=stubborn)) as port:
        async with MqttClient("127.0.0.1", port, Options("box-1", close_timeout=0.2)) as client:
            assert client.connected
        await asyncio.wait_for(saw_close.wait(), 10)
    assert not client.connected


async def test_messages_end_with_a_lost_link_when_the_broker_goes_and_quietly_when_we_leave() -> None:
    async with StrictBroker() as strict:
        async with MqttClient("127.0.0.1", strict.port, Options("sub-1")) as client:
            await client.subscribe("a/#", qos=1)
            strict.send("a/b", b"hello", qos=1)
            messages = client.messages()
            first = await anext(messages)
            assert (first.topic, first.payload, first.qos) == ("a/b", b"hello", 1)
            for other in strict.clients:
                other.writer.close()
            with pytest.raises(LinkError) as lost:
                await anext(messages)
            assert lost.value.lost
        async with MqttClient("127.0.0.1", strict.port, Options("sub-2")) as client:
            await client.subscribe("a/#", qos=1)
            reading = asyncio.ensure_future(anext(client.messages()))
            await asyncio.sleep(0.05)
        with pytest.raises(StopAsyncIteration):  # we closed it: the iteration just ends
            await reading


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=64))
async def test_hostile_bytes_from_a_broker_end_the_connection_and_nothing_else(garbage: bytes) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: escaped.append(context))
    try:
        options = Options("box-1", timeout=2, close_timeout=0.2)
        async with (
            broker(answering(connack(0, v5=False), garbage, then=hold)) as port,
            MqttClient("127.0.0.1", port, options) as client,
        ):
            try:
                async with asyncio.timeout(0.3):
                    async for _ in client.messages():
                        pass
            except (LinkError, TimeoutError):
                pass
    except LinkError:
        pass  # the garbage made the CONNACK itself unreadable: a failed connect, said as one
    finally:
        loop.set_exception_handler(None)
    assert escaped == []


async def test_a_publish_waiting_for_its_puback_fails_as_lost_when_the_broker_goes() -> None:
    async def vanish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await packet(reader)  # the PUBLISH, never acknowledged

    script = answering(connack(0, v5=False), then=vanish)
    async with broker(script) as port, MqttClient("127.0.0.1", port, Options("box-1")) as client:
        with pytest.raises(LinkError) as lost:
            await client.publish("t", b"x", qos=1)
        assert lost.value.lost
        with pytest.raises(LinkError):  # and the next one is refused at once, not queued
            await client.publish("t", b"y", qos=1)


async def test_what_nobody_reads_is_bounded_and_counted_not_held() -> None:
    async with StrictBroker() as strict, MqttClient("127.0.0.1", strict.port, Options("sub-3")) as client:
        await client.subscribe("a/#", qos=0)
        for i in range(MAX_QUEUED + 200):
            strict.send("a/b", str(i).encode(), qos=0)
        await eventually(lambda: client.dropped == 200)
        first = await anext(client.messages())
        assert first.payload == b"0"  # the oldest are kept, the newest dropped: order is never broken


async def test_an_mqtt5_broker_that_hands_our_session_to_another_client_says_conflict() -> None:
    taken = bytes([0xE0, 2, 0x8E, 0])  # DISCONNECT, reason "Session taken over", no properties
    async with broker(answering(connack(0, v5=True), taken, then=hold)) as port:
        try:  # read with the CONNACK, the connect fails; read after it, the session ends
            async with MqttClient("127.0.0.1", port, Options("up-1", protocol=5)) as client:
                async for _ in client.messages():
                    pass
        except LinkError as exc:
            said = exc
    assert said.conflict and said.code == 0x8E and not said.refused

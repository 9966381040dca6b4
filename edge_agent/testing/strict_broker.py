"""A strict stand-in MQTT 3.1.1 broker: it checks what a conformance suite would of its clients.

It speaks just enough to serve subscribers and publishers (CONNECT, SUBSCRIBE, PUBLISH both
ways with QoS 0/1/2, PUBACK, PUBREC/PUBREL/PUBCOMP, PINGREQ, DISCONNECT), delivers what a test
`send()`s to every subscriber, and records each violation of the rules the agent must keep:
acknowledgements out of the order the PUBLISH packets were sent (§4.6.0-2/-3), a PUBACK for a
QoS 2 message, an acknowledgement of an id that is not in flight, a packet before CONNECT. It
can also misbehave on purpose: refuse a login, drop a connection right after CONNACK, or answer
a resumed session with session-present 0.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from ..links import wire


@dataclass(slots=True)
class Client:
    """One connection as the broker sees it."""

    writer: asyncio.StreamWriter
    client_id: str = ""
    subscriptions: list[tuple[str, int]] = field(default_factory=list)
    inflight: deque[tuple[int, int]] = field(default_factory=deque)  # (packet id, qos) in sending order
    awaiting_pubcomp: set[int] = field(default_factory=set)
    next_id: int = 1
    acked: list[int] = field(default_factory=list)


class StrictBroker:
    """`async with StrictBroker() as broker:` listens on `broker.port` (loopback)."""

    def __init__(self, *, refuse: int = 0, drop_after_connack: bool = False, session_present: bool = True) -> None:
        self.refuse = refuse  # a CONNACK return code to refuse every login with (0: accept)
        self.drop_after_connack = drop_after_connack
        self.session_present = session_present
        self.violations: list[str] = []
        self.received: list[tuple[str, bytes, int]] = []  # what clients published
        self.clients: list[Client] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            for client in self.clients:
                client.writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def subscribers(self, topic: str | None = None) -> list[Client]:
        """Connected clients subscribed (to a filter matching `topic`, when given)."""
        return [
            c
            for c in self.clients
            if c.subscriptions
            and not c.writer.is_closing()
            and (topic is None or any(wire.topic_matches(f, topic) for f, _ in c.subscriptions))
        ]

    def send(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """PUBLISH to every current subscriber of `topic`; returns how many got it."""
        sent = 0
        for client in self.subscribers(topic):
            packet_id = 0
            if qos:
                packet_id = client.next_id
                client.next_id = client.next_id % 0xFFFF + 1
                client.inflight.append((packet_id, qos))
            client.writer.write(wire.publish_packet(topic, payload, qos, packet_id))
            sent += 1
        return sent

    def resend_pubrel(self, client: Client, packet_id: int) -> None:
        client.writer.write(wire.pubrel_packet(packet_id))

    def unacknowledged(self) -> int:
        return sum(len(c.inflight) + len(c.awaiting_pubcomp) for c in self.clients if not c.writer.is_closing())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        client = Client(writer)
        self.clients.append(client)
        frames = wire.FrameReader()
        try:
            while data := await reader.read(65536):
                for frame in frames.feed(data):
                    if not self._packet(client, frame):
                        return
                await writer.drain()
                if frames.broken is not None:
                    self.violations.append(f"{client.client_id}: {frames.broken}")
                    return
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _packet(self, client: Client, frame: wire.Frame) -> bool:
        kind, body = frame.first & 0xF0, frame.body
        if not client.client_id and kind != 0x10:
            self.violations.append(f"packet type {kind >> 4} before CONNECT")
            return False
        if kind == 0x10:
            return self._connect(client, body)
        if kind == 0x80:
            self._subscribe(client, body)
        elif kind == 0x40:
            self._ack(client, wire.packet_id(body), 1)
        elif kind == 0x50:
            packet_id = wire.packet_id(body)
            if self._ack(client, packet_id, 2):
                client.awaiting_pubcomp.add(packet_id)
                client.writer.write(wire.pubrel_packet(packet_id))
        elif kind == 0x70:
            packet_id = wire.packet_id(body)
            if packet_id not in client.awaiting_pubcomp:
                self.violations.append(f"{client.client_id}: PUBCOMP for {packet_id}, which has no PUBREL")
            client.awaiting_pubcomp.discard(packet_id)
        elif kind == wire.PUBLISH:
            self._published(client, frame)
        elif kind == 0xC0:
            client.writer.write(b"\xd0\x00")
        elif kind == 0xE0:
            return False
        else:
            self.violations.append(f"{client.client_id}: unexpected packet type {kind >> 4}")
        return True

    def _connect(self, client: Client, body: bytes) -> bool:
        end = 10 + int.from_bytes(body[8:10], "big")
        client.client_id = body[10:end].decode(errors="replace") or "?"
        if self.refuse:
            client.writer.write(wire.connack_packet(False, self.refuse))
            return False
        for other in self.clients:  # a client id taken over closes the older connection (MQTT-3.1.4-2)
            if other is not client and other.client_id == client.client_id and not other.writer.is_closing():
                other.writer.close()
        clean = bool(body[7] & 0x02)
        client.writer.write(wire.connack_packet(self.session_present and not clean))
        return not self.drop_after_connack

    def _subscribe(self, client: Client, body: bytes) -> None:
        packet_id, pos, granted = int.from_bytes(body[:2], "big"), 2, b""
        while pos < len(body):
            length = int.from_bytes(body[pos : pos + 2], "big")
            topic = body[pos + 2 : pos + 2 + length].decode()
            qos = body[pos + 2 + length]
            client.subscriptions.append((topic, qos))
            granted += bytes([qos])
            pos += 3 + length
        client.writer.write(wire.suback_packet(packet_id, granted))

    def _ack(self, client: Client, packet_id: int, kind: int) -> bool:
        """An acknowledgement must name the oldest message in flight, with the right packet type."""
        name = "PUBACK" if kind == 1 else "PUBREC"
        if not client.inflight or all(pid != packet_id for pid, _ in client.inflight):
            self.violations.append(f"{client.client_id}: {name} for {packet_id}, which is not in flight")
            return False
        oldest, qos = client.inflight[0]
        if oldest != packet_id:
            self.violations.append(f"{client.client_id}: {name} for {packet_id} before {oldest} (§4.6.0-2)")
            client.inflight = deque(entry for entry in client.inflight if entry[0] != packet_id)
            return kind == 2
        client.inflight.popleft()
        if qos != kind:
            self.violations.append(f"{client.client_id}: {name} for a QoS {qos} message")
        client.acked.append(packet_id)
        return True

    def _published(self, client: Client, frame: wire.Frame) -> None:
        message = wire.publish(frame)
        self.received.append((message.topic, message.payload, message.qos))
        if message.qos == 1:
            client.writer.write(wire.puback(message.mid))
        elif message.qos == 2:
            client.writer.write(wire.pubrec(message.mid))

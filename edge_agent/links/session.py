"""The MQTT 3.1.1 subscriber session as a state machine that never touches a socket.

Bytes in → events out (`receive`); `ack(slot)` → acknowledgements released **strictly in the
order the PUBLISH packets arrived on this connection** (MQTT 3.1.1 §4.6.0-2 and -3), however
the store batches or reorders the inputs behind them. QoS 2 is handled as QoS 2: the message is
delivered once, PUBREC goes out in arrival order when it is acknowledged, a PUBREL gets its
PUBCOMP, and a duplicate PUBLISH of an id still being handled is not delivered again. Packet
ids of our SUBSCRIBEs are allocated, CONNACK's session-present flag is reported, and keepalive
is decided from the times the caller passes in. One instance is one network connection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from . import wire
from .wire import ProtocolError


class Phase(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"  # CONNECT sent, waiting for CONNACK
    CONNECTED = "connected"
    CLOSED = "closed"


# What a broker may send in each phase of the session (everything else ends the connection).
KNOWN = frozenset({wire.CONNACK, wire.PUBLISH, wire.PUBREL, wire.SUBACK, wire.PINGRESP})
LEGAL: dict[Phase, frozenset[int]] = {
    Phase.NEW: frozenset(),  # we have not even said CONNECT
    Phase.CONNECTING: frozenset({wire.CONNACK}),
    Phase.CONNECTED: KNOWN - {wire.CONNACK},
    Phase.CLOSED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    granted: bytes  # QoS granted per filter; 0x80 = refused


class Message(NamedTuple):
    """One application message; `ack(slot)` when its effects are stored (QoS 0: nothing to ack).

    A NamedTuple rather than a frozen dataclass: it is made once per message on the hot path.
    """

    topic: str
    payload: bytes
    qos: int
    slot: int  # arrival position on this connection (-1 for QoS 0)
    oversized: bool = False


Event = ConnAck | SubAck | Message


class SubscriberSession:
    """See the module docstring. `data_to_send()` hands out what should be written next."""

    def __init__(
        self,
        client_id: str,
        *,
        clean: bool,
        keepalive: int = 30,
        username: str | None = None,
        password: str | None = None,
        max_frame: int = wire.MAX_FRAME,
    ) -> None:
        self.client_id = client_id
        self.clean = clean
        self.keepalive = keepalive
        self._credentials = (username, password)
        self._reader = wire.FrameReader(max_frame)
        self.phase = Phase.NEW
        self.error: ProtocolError | None = None  # why the connection must end, once it must
        self._out = bytearray()
        self._next_id = 1
        self._subscribing: set[int] = set()
        # QoS 1 and 2 messages in arrival order: [packet id, qos, acknowledged?]
        self._inflight: deque[list[int | bool]] = deque()
        self._head = 0  # the slot of _inflight[0]
        self._next_slot = 0
        self._handling_qos2: set[int] = set()  # delivered, not yet PUBREC'd
        self._released_qos2: set[int] = set()  # PUBREC sent, waiting for PUBREL
        self._last_in = 0.0
        self._last_out = 0.0
        self.qos2_messages = 0

    # --- what we send -------------------------------------------------------------------------

    def connect(self, now: float = 0.0) -> None:
        if self.phase is not Phase.NEW:
            raise RuntimeError("connect() is the first thing a session does")
        username, password = self._credentials
        self._send(wire.connect(self.client_id, clean=self.clean, keepalive=self.keepalive,
                                username=username, password=password), now)  # fmt: skip
        self.phase = Phase.CONNECTING
        self._last_in = now

    def subscribe(self, filters: list[tuple[str, int]], now: float = 0.0) -> int:
        """Queue a SUBSCRIBE; returns its packet id (the SubAck names it)."""
        if self.phase is not Phase.CONNECTED:
            raise RuntimeError("subscribe() needs a connected session")
        packet_id = self._allocate()
        self._subscribing.add(packet_id)
        self._send(wire.subscribe(packet_id, filters), now)
        return packet_id

    def ack(self, slot: int) -> None:
        """The message in `slot` is handled; acknowledgements leave in arrival order."""
        index = slot - self._head
        if self.phase is Phase.CLOSED or slot < 0 or not 0 <= index < len(self._inflight):
            return  # QoS 0, already released, or a previous connection's: nothing to send
        self._inflight[index][2] = True
        while self._inflight and self._inflight[0][2]:
            packet_id, qos, _ = self._inflight.popleft()
            self._head += 1
            assert isinstance(packet_id, int)
            if qos == 1:
                self._out += wire.puback(packet_id)
            else:
                self._handling_qos2.discard(packet_id)
                self._released_qos2.add(packet_id)
                self._out += wire.pubrec(packet_id)

    def disconnect(self) -> None:
        if self.phase is Phase.CONNECTED:
            self._out += wire.DISCONNECT_BYTES
        self.phase = Phase.CLOSED

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def tick(self, now: float, *, reading: bool = True) -> None:
        """Keepalive: a PINGREQ when we have been quiet; an error when the broker has (while we read)."""
        if self.phase is not Phase.CONNECTED or self.error is not None:
            return
        if reading and now - self._last_in > self.keepalive * 1.5:
            self.error = ProtocolError("broker stopped answering (keepalive)")
        elif now - self._last_out >= self.keepalive / 2:
            self._send(wire.PINGREQ_BYTES, now)

    def quiet_since(self, now: float) -> None:
        """We stopped reading on purpose until `now`: the broker's silence was ours."""
        self._last_in = now

    @property
    def unacknowledged(self) -> int:
        return len(self._inflight)

    # --- what we receive ----------------------------------------------------------------------

    def receive(self, data: bytes, now: float = 0.0) -> list[Event]:
        """Events of the complete packets in `data`; after an invalid one, `error` says why."""
        self._last_in = now
        events: list[Event] = []
        if self.error is not None or self.phase is Phase.CLOSED:
            return events
        try:
            for frame in self._reader.feed(data):
                event = self._packet(frame)
                if event is not None:
                    events.append(event)
            if self._reader.broken is not None:
                raise self._reader.broken
        except ProtocolError as exc:
            self.error = exc
        return events

    def _packet(self, frame: wire.Frame) -> Event | None:
        kind = frame.first & 0xF0
        if kind not in LEGAL[self.phase]:  # MQTT-3.2.0-1: nothing before CONNACK, and CONNACK once
            said = "before CONNACK" if self.phase is not Phase.CONNECTED else "after CONNACK"
            raise ProtocolError(f"packet type {kind >> 4} {said}" if kind in KNOWN else
                                f"unexpected packet type {kind >> 4} (flags {frame.first & 0x0F:#x})")  # fmt: skip
        if kind == wire.CONNACK:
            present = wire.connack(frame.body)
            self.phase = Phase.CONNECTED
            return ConnAck(present)
        if kind == wire.PUBLISH:
            return self._publish(wire.publish(frame))
        if kind == wire.PUBREL and frame.first == 0x62:
            packet_id = wire.packet_id(frame.body)
            self._released_qos2.discard(packet_id)
            self._out += wire.pubcomp(packet_id)
            return None
        if kind == wire.SUBACK:
            packet_id, granted = wire.suback(frame.body)
            if packet_id not in self._subscribing:
                raise ProtocolError(f"SUBACK for packet id {packet_id}, which we did not send")
            self._subscribing.discard(packet_id)
            return SubAck(packet_id, granted)
        if kind == wire.PINGRESP:
            return None
        raise ProtocolError(f"unexpected packet type {kind >> 4} (flags {frame.first & 0x0F:#x})")

    def _publish(self, p: wire.Publish) -> Message | None:
        if p.qos == 1:
            slot = self._next_slot
            self._next_slot = slot + 1
            self._inflight.append([p.mid, 1, False])
            return Message(p.topic, p.payload, 1, slot, p.oversized)
        if p.qos == 0:
            return Message(p.topic, p.payload, 0, -1, p.oversized)
        if p.qos == 2:
            self.qos2_messages += 1
            if p.mid in self._released_qos2:  # our PUBREC got lost: say it again, deliver nothing
                self._out += wire.pubrec(p.mid)
                return None
            if p.mid in self._handling_qos2:  # a duplicate of one being handled
                return None
            self._handling_qos2.add(p.mid)
        slot = self._next_slot
        self._next_slot += 1
        self._inflight.append([p.mid, p.qos, False])
        return Message(p.topic, p.payload, p.qos, slot, p.oversized)

    # --- helpers ------------------------------------------------------------------------------

    def _send(self, packet: bytes, now: float) -> None:
        self._out += packet
        self._last_out = now

    def _allocate(self) -> int:
        for _ in range(0xFFFF):
            packet_id = self._next_id
            self._next_id = self._next_id % 0xFFFF + 1
            if packet_id not in self._subscribing:
                return packet_id
        raise RuntimeError("no free packet id")

"""The sans-I/O subscriber session: acknowledgements in arrival order whatever the commit order,
QoS 2 handled as QoS 2, packet ids allocated, CONNACK and keepalive rules — no socket involved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.links import wire
from edge_agent.links.session import ConnAck, Message, Phase, SubAck, SubscriberSession


def connected(**options: object) -> SubscriberSession:
    session = SubscriberSession("edge-test", clean=False, **options)  # type: ignore[arg-type]
    session.connect()
    assert session.data_to_send().startswith(b"\x10")
    assert session.receive(wire.connack_packet(session_present=True)) == [ConnAck(True)]
    return session


def acks_in(data: bytes) -> list[tuple[int, int]]:
    """(packet type, packet id) of every acknowledgement in `data`."""
    return [(frame.first, wire.packet_id(frame.body)) for frame in wire.FrameReader().feed(data)]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[int], list[int], list[bool], list[int]]:
    """QoS per message, the order the store commits them, how arrivals and commits interleave,
    and where each message's bytes are cut in two (it may come in two TCP reads)."""
    qos = draw(st.lists(st.sampled_from([1, 2]), min_size=1, max_size=30))
    order = draw(st.permutations(range(len(qos))))
    arrive_first = draw(st.lists(st.booleans(), min_size=2 * len(qos), max_size=2 * len(qos)))
    cuts = draw(st.lists(st.integers(0, 12), min_size=len(qos), max_size=len(qos)))
    return qos, list(order), arrive_first, cuts


@given(deliveries())
def test_acknowledgements_leave_in_arrival_order_whatever_order_inputs_commit(
    case: tuple[list[int], list[int], list[bool], list[int]],
) -> None:
    qos, order, arrive_first, cuts = case
    session = connected()
    packets = [wire.publish_packet(f"t/{i}", b"x", q, i + 1) for i, q in enumerate(qos)]
    arrived: list[Message] = []
    out = b""
    for arrive in arrive_first:
        committable = bool(order) and order[0] < len(arrived)
        if packets and (arrive or not committable):
            packet, cut = packets.pop(0), cuts[len(arrived)]
            for part in (packet[:cut], packet[cut:]):
                arrived += [e for e in session.receive(part) if isinstance(e, Message)]
        elif committable:
            session.ack(arrived[order.pop(0)].slot)  # the store committed this one now
        out += session.data_to_send()
    for i in order:  # the rest commit after the last arrival
        session.ack(arrived[i].slot)
    out += session.data_to_send()
    assert len(arrived) == len(qos)
    expected = [(0x40 if q == 1 else 0x50, i + 1) for i, q in enumerate(qos)]
    assert acks_in(out) == expected  # PUBACK for QoS 1, PUBREC for QoS 2, in arrival order, once each


def test_qos2_is_delivered_once_and_completes_its_handshake() -> None:
    session = connected()
    first = session.receive(wire.publish_packet("t", b"once", 2, 7))
    assert [m.payload for m in first if isinstance(m, Message)] == [b"once"]
    assert session.receive(wire.publish_packet("t", b"once", 2, 7, dup=True)) == []  # still being handled
    assert session.data_to_send() == b""  # nothing before the store has it
    message = first[0]
    assert isinstance(message, Message)
    session.ack(message.slot)
    assert acks_in(session.data_to_send()) == [(0x50, 7)]  # PUBREC, never a PUBACK
    assert session.receive(wire.publish_packet("t", b"once", 2, 7, dup=True)) == []  # our PUBREC was lost
    assert acks_in(session.data_to_send()) == [(0x50, 7)]  # ... so it is said again, nothing delivered
    assert session.receive(wire.pubrel_packet(7)) == []
    assert acks_in(session.data_to_send()) == [(0x70, 7)]  # PUBCOMP
    assert session.qos2_messages == 3


def test_a_pubrel_after_a_reconnect_is_completed() -> None:
    session = connected()
    session.receive(wire.pubrel_packet(9))  # the broker resumes a handshake of the last connection
    assert acks_in(session.data_to_send()) == [(0x70, 9)]


def test_subscribe_packet_ids_are_allocated_and_checked() -> None:
    session = connected()
    first = session.subscribe([("a/#", 1)])
    second = session.subscribe([("b/#", 1)])
    assert first != second and 0 not in (first, second)
    assert session.receive(wire.suback_packet(second, b"\x01")) == [SubAck(second, b"\x01")]
    session.receive(wire.suback_packet(4242, b"\x01"))
    assert session.error is not None and "did not send" in str(session.error)


def test_packet_ids_wrap_and_skip_those_in_use() -> None:
    session = connected()
    session._next_id = 0xFFFF
    assert session.subscribe([("a", 1)]) == 0xFFFF
    assert session.subscribe([("b", 1)]) == 1  # never 0


def test_connack_rules() -> None:
    session = SubscriberSession("edge-test", clean=False)
    session.connect()
    assert session.receive(wire.connack_packet(session_present=False)) == [ConnAck(False)]  # the broker lost it
    refused = SubscriberSession("edge-test", clean=True)
    refused.connect()
    assert refused.receive(wire.connack_packet(code=5)) == []
    assert isinstance(refused.error, wire.ConnectionRefused) and refused.error.code == 5
    early = SubscriberSession("edge-test", clean=True)
    early.connect()
    early.receive(wire.publish_packet("t", b"x", 0))
    assert early.error is not None and "before CONNACK" in str(early.error)


@pytest.mark.parametrize(
    "packet",
    [b"\x40\x02\x00\x01", b"\x30\x03\x00\x05t", wire.publish_packet("t", b"x", 1, 0), b"\x36\x05\x00\x01t\x00\x01"],
    ids=["puback-from-broker", "short-publish", "packet-id-0", "qos-3"],
)
def test_a_broken_broker_is_a_protocol_error(packet: bytes) -> None:
    session = connected()
    session.receive(packet)
    assert session.error is not None


def test_keepalive_pings_when_quiet_and_gives_up_on_a_silent_broker() -> None:
    session = SubscriberSession("edge-test", clean=True, keepalive=10)
    session.connect(now=0.0)
    session.receive(wire.connack_packet(), now=0.0)
    session.data_to_send()
    session.tick(4.0)
    assert session.data_to_send() == b""
    session.tick(5.0)
    assert session.data_to_send() == wire.PINGREQ_BYTES
    session.tick(15.1, reading=False)  # we paused reading: its silence is ours
    assert session.error is None
    session.tick(15.1)
    assert session.error is not None and "keepalive" in str(session.error)


def test_acks_of_a_closed_connection_send_nothing() -> None:
    session = connected()
    (message,) = session.receive(wire.publish_packet("t", b"x", 1, 3))
    assert isinstance(message, Message)
    session.disconnect()
    assert session.data_to_send() == wire.DISCONNECT_BYTES
    session.ack(message.slot)
    assert session.data_to_send() == b"" and session.phase is Phase.CLOSED


PACKETS = {
    "CONNACK": wire.connack_packet(session_present=False),
    "PUBLISH": wire.publish_packet("t", b"x", 1, 1),
    "PUBREL": wire.pubrel_packet(1),
    "SUBACK": bytes([0x90, 3, 0, 1, 1]),
    "PINGRESP": bytes([0xD0, 0]),
    "PUBACK": bytes([0x40, 2, 0, 1]),
    "UNSUBACK": bytes([0xB0, 2, 0, 1]),
}
# The transition table, written out: which packet a broker may send in which phase.
ALLOWED = {
    Phase.NEW: set(),
    Phase.CONNECTING: {"CONNACK"},
    Phase.CONNECTED: {"PUBLISH", "PUBREL", "SUBACK", "PINGRESP"},
}


def in_phase(phase: Phase) -> SubscriberSession:
    session = SubscriberSession("edge-test", clean=False)
    if phase is not Phase.NEW:
        session.connect()
    if phase is Phase.CONNECTED:
        session.receive(wire.connack_packet(session_present=False))
        session.subscribe([("t/#", 1)])  # so that a SUBACK for packet id 1 is one we asked for
    assert session.phase is phase
    return session


@pytest.mark.parametrize("phase", list(ALLOWED))
@pytest.mark.parametrize("name", list(PACKETS))
def test_every_packet_in_every_phase_is_taken_or_refused_as_the_table_says(phase: Phase, name: str) -> None:
    session = in_phase(phase)
    session.receive(PACKETS[name])
    if name in ALLOWED[phase]:
        assert session.error is None, session.error
    else:
        assert session.error is not None  # the connection ends: nothing is delivered or acknowledged
        assert session.receive(wire.publish_packet("t", b"y", 1, 9)) == []

"""MQTT frames ↔ bytes: real encoded frames, cut anywhere, garbage only ever a ProtocolError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.links import wire

topics = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00+#"), min_size=1, max_size=40)
messages = st.lists(
    st.tuples(topics, st.binary(max_size=300), st.integers(0, 1), st.integers(1, 0xFFFF)), min_size=1, max_size=20
)


def stream(items: list[tuple[str, bytes, int, int]]) -> bytes:
    return b"".join(wire.publish_packet(t, p, q, m) for t, p, q, m in items)


def read(reader: wire.FrameReader, data: bytes, cuts: list[int]) -> list[wire.Publish]:
    out: list[wire.Publish] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        out += [wire.publish(f) for f in reader.feed(data[start:cut])]
        start = cut
    return out


@given(messages, st.lists(st.integers(0, 10_000), max_size=30))
def test_frames_cut_anywhere_come_out_whole_and_in_order(
    items: list[tuple[str, bytes, int, int]], cuts: list[int]
) -> None:
    received = read(wire.FrameReader(), stream(items), cuts)
    assert [(m.topic, m.payload, m.qos, m.mid if m.qos else 1) for m in received] == [
        (t, p, q, m if q else 1) for t, p, q, m in items
    ]


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
@settings(max_examples=300)
def test_garbage_gives_frames_then_at_most_a_protocol_error_never_an_exception(data: bytes, cuts: list[int]) -> None:
    reader = wire.FrameReader(max_frame=512)
    for frame in [f for i in range(0, len(data), 97) for f in reader.feed(data[i : i + 97])]:
        with contextlib.suppress(wire.ProtocolError):
            wire.publish(frame)
    assert reader.broken is None or isinstance(reader.broken, wire.ProtocolError)


@given(messages, st.binary(max_size=50))
def test_frames_before_garbage_still_come_out_and_nothing_after(
    items: list[tuple[str, bytes, int, int]], junk: bytes
) -> None:
    reader = wire.FrameReader()
    frames = reader.feed(stream(items) + b"\x30\xff\xff\xff\xff" + junk)  # a length of five bytes
    assert [wire.publish(f).payload for f in frames] == [p for _, p, _, _ in items]
    assert isinstance(reader.broken, wire.ProtocolError)
    assert reader.feed(stream(items)) == []


def test_an_oversized_publish_keeps_its_topic_and_id_and_the_next_frame_survives() -> None:
    reader = wire.FrameReader(max_frame=1024)
    big = wire.publish_packet("store/s/mirror/m1/events", b"x" * 200_000, qos=1, mid=77)
    after = wire.publish_packet("store/s/mirror/m1/events", b'{"ok": 1}', qos=1, mid=78)
    data = big + after
    frames: list[wire.Frame] = []
    for i in range(0, len(data), 4096):
        frames += reader.feed(data[i : i + 4096])
        assert len(reader._buf) <= 4096 + 70_000  # never holds the whole oversized frame
    first, second = (wire.publish(f) for f in frames)
    assert (first.topic, first.mid, first.oversized) == ("store/s/mirror/m1/events", 77, True)
    assert (second.payload, second.mid, second.oversized) == (b'{"ok": 1}', 78, False)


def test_a_length_longer_than_four_bytes_is_refused() -> None:
    reader = wire.FrameReader()
    assert reader.feed(b"\x30\xff\xff\xff\xff\x01") == []
    assert isinstance(reader.broken, wire.ProtocolError)


def test_an_oversized_control_packet_is_refused() -> None:
    reader = wire.FrameReader(max_frame=16)
    assert reader.feed(b"\x90\x40" + b"\x00" * 64) == []
    assert "control packet" in str(reader.broken)


def test_refused_connack_names_the_reason() -> None:
    assert wire.connack(b"\x01\x00") is True
    with pytest.raises(wire.ProtocolError, match="bad user name or password"):
        wire.connack(b"\x00\x04")


def test_connect_and_subscribe_encode_as_the_standard_says() -> None:
    packet = wire.connect("id", clean=False, keepalive=30, username="u", password="p")
    assert packet == b"\x10\x14\x00\x04MQTT\x04\xc0\x00\x1e\x00\x02id\x00\x01u\x00\x01p"
    assert wire.subscribe(1, [("a/+", 1)]) == b"\x82\x08\x00\x01\x00\x03a/+\x01"
    assert wire.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


levels = st.sampled_from(["a", "b", "", "+", "#", "$SYS", "x.y"])


@given(
    st.lists(levels, min_size=1, max_size=5), st.lists(st.sampled_from(["a", "b", "", "x.y"]), min_size=1, max_size=5)
)
def test_a_compiled_topic_filter_matches_exactly_what_the_spec_matches(want: list[str], have: list[str]) -> None:
    topic_filter, topic = "/".join(want), "/".join(have)
    if "#" in want[:-1]:
        return  # not a valid filter: `#` only last
    assert bool(wire.topic_filter_pattern(topic_filter).match(topic)) == wire.topic_matches(topic_filter, topic)

"""MQTT 3.1.1 frames ↔ bytes for the inbound path: pure functions, no I/O, no state but a buffer.

Only what a subscriber needs: CONNECT, SUBSCRIBE, PUBACK, PUBREC, PUBCOMP, PINGREQ and
DISCONNECT out; CONNACK, SUBACK, PUBLISH, PUBREL and PINGRESP in (OASIS MQTT 3.1.1, sections 2
and 3). The session's rules (what may come when, acknowledgement order) live in `session.py`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..core.errors import EdgeAgentError

CONNACK = 0x20
PUBLISH = 0x30
PUBREL = 0x60
SUBACK = 0x90
PINGRESP = 0xD0
PINGREQ_BYTES = b"\xc0\x00"
DISCONNECT_BYTES = b"\xe0\x00"

MAX_FRAME = 1 << 20  # far above the 64 KiB a payload may have; larger ones are skipped, not held
_HEAD = 2 + 0xFFFF + 2  # enough of an oversized PUBLISH for its topic and packet id

CONNACK_REFUSED = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


# CONNACK return codes (3.1.1) and reason codes (5) that refuse our credentials or identity: trying
# again soon cannot help. The one table: our own sessions and the publishing client both read it
# (paho reports 3.1.1's return codes 2, 4 and 5 as MQTT 5's 0x85, 0x86 and 0x87).
REFUSED_CODES = frozenset({2, 4, 5, 0x85, 0x86, 0x87, 0x8A, 0x8C})


class ProtocolError(EdgeAgentError):
    """The broker sent bytes that are not MQTT 3.1.1; the connection cannot continue."""


class ConnectionRefused(ProtocolError):
    """The broker answered CONNECT with a refusal; `code` is its CONNACK return code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"broker refused the connection: {CONNACK_REFUSED.get(code, f'code {code}')}")
        self.code = code


class Frame(NamedTuple):
    """One control packet: the first header byte and the rest after the length."""

    first: int
    body: bytes
    skipped: int = 0  # bytes of an oversized PUBLISH that were dropped after `body`


class Publish(NamedTuple):
    """One received application message."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    oversized: bool = False
    dup: bool = False


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 §4.7 topic matching (`+` one level, `#` the rest)."""
    want, have = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def topic_filter_pattern(topic_filter: str) -> re.Pattern[str]:
    """A compiled matcher equivalent to `topic_matches(topic_filter, …)`, for per-message use."""
    levels = []
    for level in topic_filter.split("/"):
        levels.append("[^/]*" if level == "+" else ".*" if level == "#" else re.escape(level))
    pattern = "/".join(levels)
    if topic_filter.endswith("/#"):  # `a/#` also matches `a` itself (§4.7.1.2)
        pattern = pattern[: -len("/.*")] + "(?:/.*)?"
    return re.compile(pattern + r"\Z")


def _string(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 0xFFFF:
        raise ValueError("MQTT strings are at most 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _length(len(body)) + body


def connect(client_id: str, *, clean: bool, keepalive: int, username: str | None, password: str | None) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None and username is not None else 0
    body = _string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + _string(client_id)
    if username is not None:
        body += _string(username)
        if password is not None:
            body += _string(password)
    return _packet(0x10, body)


def subscribe(mid: int, filters: list[tuple[str, int]]) -> bytes:
    return _packet(0x82, mid.to_bytes(2, "big") + b"".join(_string(t) + bytes([q]) for t, q in filters))


def publish_packet(topic: str, payload: bytes, qos: int = 0, mid: int = 0, *, dup: bool = False) -> bytes:
    """A PUBLISH as a broker sends it (for simulators and tests of the reader)."""
    first = PUBLISH | qos << 1 | (0x08 if dup else 0)
    return _packet(first, _string(topic) + (mid.to_bytes(2, "big") if qos else b"") + payload)


def connack_packet(session_present: bool = False, code: int = 0) -> bytes:
    """A CONNACK as a broker sends it (for stand-in brokers in tests)."""
    return bytes([CONNACK, 2, int(session_present), code])


def suback_packet(mid: int, granted: bytes) -> bytes:
    """A SUBACK as a broker sends it (for stand-in brokers in tests)."""
    return _packet(SUBACK, mid.to_bytes(2, "big") + granted)


def pubacks(mids: list[int]) -> bytes:
    """PUBACKs for several messages in one buffer (one socket write)."""
    return b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)


def puback(mid: int) -> bytes:
    return b"\x40\x02" + mid.to_bytes(2, "big")


def pubrec(mid: int) -> bytes:
    return b"\x50\x02" + mid.to_bytes(2, "big")


def pubcomp(mid: int) -> bytes:
    return b"\x70\x02" + mid.to_bytes(2, "big")


def pubrel_packet(mid: int) -> bytes:
    """A PUBREL as a broker sends it (for stand-in brokers in tests)."""
    return b"\x62\x02" + mid.to_bytes(2, "big")


def packet_id(body: bytes) -> int:
    """The packet id of a PUBREL (or any two-byte acknowledgement)."""
    if len(body) != 2:
        raise ProtocolError("malformed acknowledgement packet")
    return int.from_bytes(body, "big")


def connack(body: bytes) -> bool:
    """Session present; raises ProtocolError with the broker's reason when refused."""
    if len(body) != 2:
        raise ProtocolError("malformed CONNACK")
    if body[1]:
        raise ConnectionRefused(body[1])
    return bool(body[0] & 1)


def suback(body: bytes) -> tuple[int, bytes]:
    """(packet id, granted QoS per filter; 0x80 = refused)."""
    if len(body) < 3:
        raise ProtocolError("malformed SUBACK")
    return int.from_bytes(body[:2], "big"), body[2:]


def publish(frame: Frame) -> Publish:
    body = frame.body
    qos = (frame.first >> 1) & 3
    if qos == 3 or len(body) < 2:
        raise ProtocolError("malformed PUBLISH")
    end = 2 + (body[0] << 8 | body[1])
    if qos:
        end += 2
    if end > len(body):
        raise ProtocolError("PUBLISH shorter than its topic")
    try:
        topic = body[2 : end - 2 if qos else end].decode()
    except UnicodeDecodeError as exc:
        raise ProtocolError("PUBLISH topic is not UTF-8") from exc
    mid = (body[end - 2] << 8 | body[end - 1]) if qos else 0
    if qos and mid == 0:
        raise ProtocolError("PUBLISH with packet id 0")  # MQTT-2.3.1-1
    return Publish(topic, body[end:], qos, mid, frame.skipped > 0, bool(frame.first & 0x08))


class FrameReader:
    """Cuts a byte stream into frames; partial frames wait for the next chunk."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._skip = 0  # bytes still to drop of an oversized frame
        self.broken: ProtocolError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by `data`, in order; once bytes are not MQTT, `broken` says why
        (the frames before them still come out) and nothing more is read."""
        if self.broken is not None:
            return []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data
        frames: list[Frame] = []
        try:
            pos = self._cut(frames)
        except ProtocolError as exc:
            self.broken = exc
            self._buf.clear()
            return frames
        del self._buf[:pos]
        return frames

    def _cut(self, frames: list[Frame]) -> int:
        buf = self._buf
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length, start = _remaining(buf, pos + 1, size)
            if start < 0:
                break
            end = start + length
            if length > self._max:
                frame = self._oversized(buf, pos, start, end, size)
                if frame is None:
                    break
                frames.append(frame)
                pos = min(size, end)
                continue
            if end > size:
                break
            frames.append(Frame(buf[pos], bytes(buf[start:end])))
            pos = end
        return pos

    def _oversized(self, buf: bytearray, pos: int, start: int, end: int, size: int) -> Frame | None:
        """Keep the head of a PUBLISH too large to hold, then drop its remaining bytes."""
        if buf[pos] & 0xF0 != PUBLISH:
            raise ProtocolError(f"control packet of {end - start} bytes")
        head = min(_HEAD, end - start)
        if size - start < head:
            return None
        kept = min(size, end)
        self._skip = end - kept
        return Frame(buf[pos], bytes(buf[start : start + head]), skipped=end - start - head)


def _remaining(buf: bytearray, i: int, size: int) -> tuple[int, int]:
    """(remaining length, index of the body) or (0, -1) when the length is not complete yet."""
    length, shift = 0, 0
    while i < size:
        byte = buf[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return length, i
        shift += 7
        if shift > 21:
            raise ProtocolError("remaining length longer than four bytes")
    return 0, -1

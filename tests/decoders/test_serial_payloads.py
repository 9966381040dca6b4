"""Line protocol and Modbus registers: exact vectors and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.config.profiles import ProfileRegistry
from edge_agent.core.errors import DecodeError
from edge_agent.decoders.line import decode_line, with_checksum, xor_checksum
from edge_agent.decoders.modbus import check_frame, crc16, decode_registers, frame, register_span

PROFILES = ProfileRegistry.load()
COUNTER = PROFILES.get("serial-people-counter")
TH = PROFILES.get("modbus-temp-humidity")


def test_xor_checksum_vector() -> None:
    # NMEA-style: XOR of every byte before '*'; the NMEA guide's own sentence as the vector
    assert xor_checksum(b"GPGLL,5300.97914,N,00259.98174,E,125926,A") == 0x28
    assert xor_checksum(b"in=3,out=1,seq=42") == 0x37
    assert with_checksum("in=3,out=1,seq=42") == b"in=3,out=1,seq=42*37\n"


def test_counter_line() -> None:
    readings = decode_line(COUNTER, "door", b"in=3,out=1,seq=42*37", 5.0)
    assert [(r.resource, r.value, r.unit) for r in readings] == [
        ("in", 3, "people"),
        ("out", 1, "people"),
        ("seq", 42, None),
    ]


def test_modbus_crc_vector() -> None:
    # "read 10 holding registers of unit 1 from 0": the textbook frame 01 03 00 00 00 0A C5 CD
    assert crc16(bytes.fromhex("01030000000A")) == 0xCDC5
    assert frame(bytes.fromhex("01030000000A")) == bytes.fromhex("01030000000AC5CD")
    assert check_frame(bytes.fromhex("01030000000AC5CD")) is None
    assert check_frame(bytes.fromhex("01030000000AC5CE")) == "bad_crc"
    assert check_frame(b"\x01\x04") == "truncated"


def test_modbus_registers_with_types_and_scales() -> None:
    first, count = register_span(TH)
    assert (first, count) == (1, 2)
    readings, errors = decode_registers(TH, "th", first, [0xFFC9, 456], 1.0)  # -55 → -5.5 °C
    assert [(r.resource, r.value) for r in readings] == [("temperature", -5.5), ("humidity", 45.6)]
    assert errors == []
    readings, errors = decode_registers(TH, "th", first, [215], 1.0)  # short response
    assert [r.resource for r in readings] == ["temperature"]
    assert [e.reason for e in errors] == ["truncated"]


@given(st.binary(max_size=200))
def test_fuzz_line(data: bytes) -> None:
    try:
        readings = decode_line(COUNTER, "door", data, 1.0)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert all(0 <= r.value <= 4294967295 for r in readings)


@given(st.text(alphabet="inoutseq=,0123456789-.xe ", max_size=60))
def test_fuzz_line_with_valid_checksums(body: str) -> None:
    try:
        readings = decode_line(COUNTER, "door", with_checksum(body).rstrip(b"\n"), 1.0)
    except DecodeError as exc:
        assert exc.reason != "bad_checksum"
    else:
        assert {r.resource for r in readings} <= {"in", "out", "seq"}


@given(st.lists(st.integers(0, 0xFFFF), max_size=4))
def test_fuzz_registers(words: list[int]) -> None:
    readings, errors = decode_registers(TH, "th", 1, words, 1.0)
    assert len(readings) + len(errors) == 2
    assert all(-40 <= r.value <= 125 for r in readings if r.resource == "temperature")


@given(st.binary(max_size=64))
def test_fuzz_check_frame(data: bytes) -> None:
    assert check_frame(data) in (None, "truncated", "bad_crc")


@pytest.mark.parametrize("line", [b"", b"*", b"in=1*ZZ", b"in=1*123"])
def test_line_rejects_broken_checksums(line: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_line(COUNTER, "door", line, 1.0)


@pytest.mark.parametrize("value", ["1" + "0" * 400, "9" * 5000, "1e400", "-1e999", "nan", "inf"])
def test_a_poison_number_on_a_serial_line_is_a_dead_letter_reason(value: str) -> None:
    line = with_checksum(f"in={value},out=1,seq=1").rstrip(b"\n")
    with pytest.raises(DecodeError) as info:
        decode_line(COUNTER, "door", line, 5.0)
    assert info.value.reason in {"bad_number", "bad_value", "out_of_range", "too_large"}

"""Beacon frames: byte-exact vectors from the public format descriptions, and fuzzing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.beacons import beacon_of
from edge_agent.beacons.altbeacon import AltBeacon, altbeacon_payload, parse_altbeacon
from edge_agent.beacons.eddystone import (
    EDDYSTONE_UUID,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    eddystone_uid_payload,
    parse_eddystone,
)
from edge_agent.beacons.ibeacon import APPLE, IBeacon, ibeacon_payload, parse_ibeacon
from edge_agent.core.events import Advertisement, BeaconId

# Apple manufacturer data after the 0x004C company id, as a scanner reports it:
# 02 15 | E2C56DB5-DFFB-48D2-B060-D0F5A71096E0 | major 0x0001 | minor 0x0002 | power 0xC5 (-59 dBm)
IBEACON_VECTOR = bytes.fromhex("0215e2c56db5dffb48d2b060d0f5a71096e000010002c5")
# Eddystone-UID: frame 0x00, Tx power at 0 m 0xEE (-18), namespace (10), instance (6), RFU (2)
EDDYSTONE_UID_VECTOR = bytes.fromhex("00eeedd1ebeac04e5defa0170badc0ffee010000")
# Eddystone-URL "https://www.example.com/": scheme 0x01, "example", expansion 0x00 (.com/)
EDDYSTONE_URL_VECTOR = bytes.fromhex("10eb01") + b"example" + b"\x00"
# Eddystone-TLM v0: battery 3000 mV, temperature 25.5 °C (8.8 fixed point), 10 adverts, uptime 100 deciseconds
EDDYSTONE_TLM_VECTOR = bytes.fromhex("20000bb819800000000a00000064")
# AltBeacon after the company id: BEAC | 20-byte id | ref RSSI 0xC5 | mfg reserved 0x00
ALTBEACON_VECTOR = bytes.fromhex("beac00112233445566778899aabbccddeeff00010002c500")


def test_ibeacon_vector() -> None:
    assert parse_ibeacon(IBEACON_VECTOR) == IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 1, 2, -59)


def test_ibeacon_round_trip_and_rejects_other_apple_frames() -> None:
    assert ibeacon_payload("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 1, 2, -59) == IBEACON_VECTOR
    assert parse_ibeacon(IBEACON_VECTOR[:-1]) is None  # truncated
    assert parse_ibeacon(b"\x10\x05" + IBEACON_VECTOR[2:]) is None  # Apple "nearby", not iBeacon


def test_eddystone_vectors() -> None:
    assert parse_eddystone(EDDYSTONE_UID_VECTOR) == EddystoneUid("edd1ebeac04e5defa017", "0badc0ffee01", -18)
    assert parse_eddystone(EDDYSTONE_UID_VECTOR[:18]) == EddystoneUid("edd1ebeac04e5defa017", "0badc0ffee01", -18)
    assert parse_eddystone(EDDYSTONE_URL_VECTOR) == EddystoneUrl("https://www.example.com/", -21)
    assert parse_eddystone(EDDYSTONE_TLM_VECTOR) == EddystoneTlm(3000, 25.5, 10, 10.0)
    assert eddystone_uid_payload("edd1ebeac04e5defa017", "0badc0ffee01", -18) == EDDYSTONE_UID_VECTOR


def test_eddystone_rejects_broken_frames() -> None:
    assert parse_eddystone(b"") is None
    assert parse_eddystone(EDDYSTONE_UID_VECTOR[:10]) is None
    assert parse_eddystone(bytes.fromhex("10eb09") + b"x") is None  # unknown URL scheme
    assert parse_eddystone(bytes.fromhex("10eb01") + b"\x7f") is None  # non-printable URL byte
    assert parse_eddystone(bytes.fromhex("2001") + EDDYSTONE_TLM_VECTOR[2:]) is None  # encrypted TLM


def test_altbeacon_vector() -> None:
    assert parse_altbeacon(0x0118, ALTBEACON_VECTOR) == AltBeacon(
        0x0118, "00112233445566778899aabbccddeeff00010002", -59, 0
    )
    assert altbeacon_payload("00112233445566778899aabbccddeeff00010002") == ALTBEACON_VECTOR


def test_beacon_of_picks_the_identifying_frame() -> None:
    def adv(mfg: dict[int, bytes] | None = None, svc: dict[str, bytes] | None = None) -> Advertisement:
        return Advertisement("AA:BB:CC:DD:EE:FF", -60, "local", 0.0, mfg or {}, svc or {})

    assert beacon_of(adv({APPLE: IBEACON_VECTOR})) == (
        BeaconId("ibeacon", "e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2"),
        -59,
    )
    assert beacon_of(adv(svc={EDDYSTONE_UUID: EDDYSTONE_UID_VECTOR})) == (
        BeaconId("eddystone", "edd1ebeac04e5defa017:0badc0ffee01"),
        -18,
    )
    assert beacon_of(adv({0x0118: ALTBEACON_VECTOR})) == (
        BeaconId("altbeacon", "00112233445566778899aabbccddeeff00010002"),
        -59,
    )
    assert beacon_of(adv(svc={EDDYSTONE_UUID: EDDYSTONE_TLM_VECTOR})) is None
    assert beacon_of(adv({0x0006: b"\x01\x02"})) is None


def _near(prefix: bytes, length: int) -> st.SearchStrategy[bytes]:
    """Random bytes, and frames with the right prefix at, around and beyond the right length."""
    return st.one_of(
        st.binary(max_size=64),
        st.binary(min_size=length - len(prefix), max_size=length - len(prefix)).map(lambda b: prefix + b),
        st.binary(max_size=length + 4).map(lambda b: prefix + b),
    )


@given(_near(b"\x02\x15", 23))
def test_fuzz_ibeacon(data: bytes) -> None:
    frame = parse_ibeacon(data)
    assert (frame is not None) == (len(data) == 23 and data[:2] == b"\x02\x15")
    if frame is not None:
        assert ibeacon_payload(frame.uuid, frame.major, frame.minor, frame.measured_power) == data


@given(st.one_of(_near(b"\x00", 20), _near(b"\x10", 12), _near(b"\x20\x00", 14)))
def test_fuzz_eddystone(data: bytes) -> None:
    frame = parse_eddystone(data)
    assert frame is None or isinstance(frame, EddystoneUid | EddystoneUrl | EddystoneTlm)


@given(st.integers(0, 0xFFFF), _near(b"\xbe\xac", 24))
def test_fuzz_altbeacon(company: int, data: bytes) -> None:
    frame = parse_altbeacon(company, data)
    if frame is not None:
        assert altbeacon_payload(frame.beacon_id_hex, frame.reference_rssi, frame.mfg_reserved) == data


@given(
    st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=40), max_size=3),
    st.dictionaries(st.sampled_from([EDDYSTONE_UUID, "0000fe9a-0000-1000-8000-00805f9b34fb"]), st.binary(max_size=40)),
)
def test_fuzz_beacon_of_never_raises(mfg: dict[int, bytes], svc: dict[str, bytes]) -> None:
    result = beacon_of(Advertisement("AA:BB:CC:DD:EE:FF", -70, "local", 0.0, mfg, svc))
    assert result is None or isinstance(result[0], BeaconId)

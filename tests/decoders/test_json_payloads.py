"""Mirror and remote-scanner JSON: spec examples decode, anything else is a DecodeError with a reason."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.beacons import beacon_of
from edge_agent.beacons.eddystone import EDDYSTONE_UUID
from edge_agent.beacons.ibeacon import APPLE
from edge_agent.core.errors import DecodeError
from edge_agent.core.events import BeaconId, MirrorEvent
from edge_agent.decoders.espresense import decode_espresense
from edge_agent.decoders.jsonsafe import MAX_PAYLOAD, loads_object
from edge_agent.decoders.mirror import decode_mirror
from edge_agent.decoders.theengs import decode_theengs, service_uuid

NOW = 1_795_000_000.0

# What Theengs Gateway publishes for an iBeacon (manufacturerdata: 4c00 = Apple, little-endian).
THEENGS_IBEACON = {
    "id": "D4:2A:11:22:33:44",
    "rssi": -62,
    "txpower": -59,
    "manufacturerdata": "4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5",
}
THEENGS_EDDYSTONE = {
    "id": "C0:FF:EE:00:11:22",
    "rssi": -70,
    "servicedata": "00eeedd1ebeac04e5defa0170badc0ffee010000",
    "servicedatauuid": "0xfeaa",
}


def test_theengs_ibeacon_message() -> None:
    adv = decode_theengs("scanner-1", json.dumps(THEENGS_IBEACON).encode(), NOW)
    assert (adv.address, adv.rssi, adv.scanner, adv.tx_power) == ("D4:2A:11:22:33:44", -62, "scanner-1", -59)
    assert APPLE in adv.manufacturer_data
    assert beacon_of(adv) == (BeaconId("ibeacon", "e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2"), -59)


def test_theengs_eddystone_message() -> None:
    adv = decode_theengs("scanner-1", json.dumps(THEENGS_EDDYSTONE).encode(), NOW)
    assert EDDYSTONE_UUID in adv.service_data
    assert beacon_of(adv) == (BeaconId("eddystone", "edd1ebeac04e5defa017:0badc0ffee01"), -18)


@pytest.mark.parametrize("value", ["0xfeaa", "feaa", "FEAA", "0000feaa", EDDYSTONE_UUID])
def test_service_uuid_forms(value: str) -> None:
    assert service_uuid(value) == EDDYSTONE_UUID


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "not-a-mac"}, "bad_value"),
        ({"rssi": "loud"}, "wrong_type"),
        ({"rssi": 900}, "out_of_range"),
        ({"rssi": True}, "wrong_type"),
        ({"manufacturerdata": "4c0"}, "bad_value"),
        ({"manufacturerdata": "4c"}, "truncated"),
        ({"rssi": None}, "missing_field"),
    ],
)
def test_theengs_rejects(change: dict[str, object], reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_theengs("s", json.dumps({**THEENGS_IBEACON, **change}).encode(), NOW)
    assert info.value.reason == reason


def test_mirror_spec_examples() -> None:
    start = decode_mirror("m1", b'{"event": "session_start", "session_id": "s1", "ts": 1795000000}', NOW)
    assert start == MirrorEvent("m1", "session_start", "s1", NOW)
    like = decode_mirror(
        "m1",
        b'{"event":"like","session_id":"s1","sku":"SKU-9","ts":"2026-11-18T11:06:40+00:00","customer_ref":"L-77"}',
        NOW,
    )
    assert (like.sku, like.customer_ref, like.ts) == ("SKU-9", "L-77", 1_795_000_000.0)
    naive = decode_mirror("m1", b'{"event":"like","session_id":"s1","sku":"x","ts":"2026-11-18T11:06:40"}', NOW)
    assert naive.ts == like.ts  # no offset means UTC
    assert decode_mirror("m1", b'{"event":"session_end","session_id":"s1"}', NOW).ts == NOW


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "bad_json"),
        (b"null", "bad_json"),
        (b"[1]", "bad_json"),
        (b'{"event":"like","session_id":"s","sku":"x","ts":Infinity}', "bad_number"),
        (b'{"event":"like","session_id":"s","sku":"x","extra":1}', "unknown_field"),
        (b'{"event":"like","session_id":"s","sku":"x","ts":true}', "wrong_type"),
        (b'{"event":"like","session_id":"s","sku":"x","ts":"yesterday"}', "bad_value"),
        (b'{"event":"like","session_id":"","sku":"x"}', "bad_value"),
        (b"\xc3\x28", "bad_utf8"),
        (b" " * (MAX_PAYLOAD + 1), "too_large"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b'{"event":"session_start","session_id":"p","ts":1' + b"0" * 400 + b"}", "bad_number"),
        (b'{"event":"session_start","session_id":"p","ts":1' + b"0" * 5000 + b"}", "bad_number"),
        (b'{"event":"session_start","session_id":"p","ts":1e400}', "bad_number"),
    ],
)
def test_mirror_rejects(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_mirror("m1", payload, NOW)
    assert info.value.reason == reason


huge_ints = st.integers(min_value=10**19, max_value=10**4000) | st.integers(min_value=-(10**4000), max_value=-(10**19))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | huge_ints | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
mirror_like = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["session_start", "try_on", "like", "dislike", "size_request", "session_end", "x"])
        | json_values,
        "session_id": st.text(max_size=300) | json_values,
        "sku": st.text(max_size=80) | json_values,
        "ts": st.floats(allow_nan=True) | st.integers() | st.text(max_size=30) | json_values,
        "customer_ref": st.text(max_size=200) | json_values,
        "size": st.text(max_size=40) | json_values,
    },
)
# Number literals that json.dumps never writes but a hostile device can: overflow, 5000 digits.
raw_numbers = st.sampled_from(["1e400", "-1e400", "1E999", "1" * 400, "1" * 5000, "-" + "9" * 5000, "0.1e-400"])
mirror_fields = ["event", "session_id", "sku", "ts", "customer_ref", "size"]
theengs_fields = ["id", "rssi", "txpower", "manufacturerdata", "servicedata", "servicedatauuid", "major", "minor"]
espresense_fields = ["id", "rssi", "rssi@1m", "mac", "distance"]


def with_raw_number(fields: list[str]) -> st.SearchStrategy[bytes]:
    """A valid-looking object with one field replaced by a raw number literal."""
    return st.tuples(st.sampled_from(fields), raw_numbers).map(
        lambda pair: (
            f'{{"event":"try_on","session_id":"s","sku":"x","id":"AA:BB:CC:DD:EE:FF","rssi":-60,"{pair[0]}":{pair[1]}}}'
        ).encode()
    )


@given(
    st.one_of(
        st.binary(max_size=300), mirror_like.map(lambda d: json.dumps(d).encode()), with_raw_number(mirror_fields)
    )
)
def test_fuzz_mirror_only_raises_decode_errors(payload: bytes) -> None:
    try:
        event = decode_mirror("m1", payload, time.time())
    except DecodeError as exc:
        assert exc.reason
    else:
        assert event.event in {"session_start", "try_on", "like", "dislike", "size_request", "session_end"}


theengs_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("AA:BB:CC:DD:EE:FF") | json_values,
        "rssi": st.integers(-200, 50) | json_values,
        "txpower": st.integers(-200, 50) | json_values,
        "manufacturerdata": st.binary(max_size=30).map(bytes.hex) | json_values,
        "servicedata": st.binary(max_size=30).map(bytes.hex) | json_values,
        "servicedatauuid": st.sampled_from(["0xfeaa", "feaa", "zz"]) | json_values,
        "mac": st.just("60:87:57:4C:9B:C2") | json_values,
        "uuid": st.sampled_from(["1de4b189115e45f6b44e509352269977", "1de4b189-115e-45f6-b44e-509352269977", "1de4"])
        | json_values,
        "major": st.integers(-70_000, 70_000) | json_values,
        "minor": st.integers(-70_000, 70_000) | json_values,
        "power": st.integers(-300, 300) | json_values,
    },
)


@given(
    st.one_of(
        st.binary(max_size=300), theengs_like.map(lambda d: json.dumps(d).encode()), with_raw_number(theengs_fields)
    )
)
def test_fuzz_theengs_only_raises_decode_errors(payload: bytes) -> None:
    try:
        adv = decode_theengs("s", payload, NOW)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert -127 <= adv.rssi <= 20
        beacon_of(adv)


espresense_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(
            [
                "iBeacon:fda50693-a4e2-4fb1-afcf-c6eb07647825-100-65535",
                "iBeacon:770cddcb2d3e145784de5874ce581250-1-2--59",
                "iBeacon:770cddcb2d3e145784de5874ce581250-99999-2",
                "eddy:edd1ebeac04e5defa017-0badc0ffee01",
                "apple:iphone13-2",
            ]
        )
        | st.text(max_size=140)
        | json_values,
        "rssi": st.integers(-200, 50) | json_values,
        "rssi@1m": st.integers(-300, 300) | json_values,
        "mac": st.sampled_from(["df51fd4a4caf", "DF:51:FD:4A:4C:AF", "nope"]) | json_values,
        "distance": st.floats() | json_values,
    },
)


@given(
    st.one_of(
        st.binary(max_size=300),
        espresense_like.map(lambda d: json.dumps(d).encode()),
        with_raw_number(espresense_fields),
    )
)
def test_fuzz_espresense_only_raises_decode_errors(payload: bytes) -> None:
    try:
        adv = decode_espresense("office", payload, NOW)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert -127 <= adv.rssi <= 20 and adv.scanner == "office"
        beacon_of(adv)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "iBeacon:770cddcb2d3e145784de5874ce581250-70000-2"}, "out_of_range"),
        ({"id": "iBeacon:770cddcb2d3e145784de5874ce581250-1-2-900"}, "out_of_range"),
        ({"rssi": None}, "missing_field"),
        ({"id": 7}, "wrong_type"),
        ({"rssi@1m": "loud"}, "wrong_type"),
    ],
)
def test_espresense_rejects(change: dict[str, object], reason: str) -> None:
    base = {"id": "iBeacon:770cddcb2d3e145784de5874ce581250-1-2", "rssi": -70}
    with pytest.raises(DecodeError) as info:
        decode_espresense("office", json.dumps({**base, **change}).encode(), NOW)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uuid": "1de4"}, "bad_value"),
        ({"major": None}, "missing_field"),
        ({"minor": 70_000}, "out_of_range"),
        ({"txpower": "x"}, "wrong_type"),
        ({"id": "1de4b189115e45f6b44e509352269977", "uuid": None}, "bad_value"),
    ],
)
def test_theengs_decoded_ibeacon_rejects(change: dict[str, object], reason: str) -> None:
    base = {"id": "58:78:20:76:BC:24", "rssi": -79, "uuid": "1de4b189115e45f6b44e509352269977", "major": 0, "minor": 0}
    with pytest.raises(DecodeError) as info:
        decode_theengs("s", json.dumps({**base, **change}).encode(), NOW)
    assert info.value.reason == reason


@given(st.binary(max_size=200))
def test_fuzz_loads_object(payload: bytes) -> None:
    try:
        assert isinstance(loads_object(payload), dict)
    except DecodeError as exc:
        assert exc.reason in {"too_large", "bad_utf8", "bad_json", "bad_number", "too_deep"}

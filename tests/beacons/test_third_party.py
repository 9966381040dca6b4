"""Vectors nobody on the project wrote: other decoders' test suites, scanner docs and field reports.

Each case in `tests/data/third_party_adverts.json` names the repository, path and commit (or the
issue) it was taken from. Raw frames go through the beacon registry as the local adapter would
hand them over; scanner messages go through the scanner decoders, decoded and raw alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.beacons import beacon_of
from edge_agent.core.events import Advertisement, BeaconId
from edge_agent.decoders.espresense import decode_espresense
from edge_agent.decoders.theengs import decode_theengs

CORPUS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "third_party_adverts.json").read_text())
BASE_UUID = "-0000-1000-8000-00805f9b34fb"


def ad_structures(raw: bytes) -> tuple[dict[int, bytes], dict[str, bytes]]:
    """Manufacturer and service data out of advertising data (Core spec Vol 3 Part C §11)."""
    mfg: dict[int, bytes] = {}
    svc: dict[str, bytes] = {}
    i = 0
    while i < len(raw) and raw[i] != 0:
        length = raw[i]
        body = raw[i + 1 : i + 1 + length]
        if len(body) < length:
            break  # truncated: what came before still counts, as a scanner would report it
        kind, data = body[0], body[1:]
        if kind == 0xFF and len(data) >= 2:
            mfg[int.from_bytes(data[:2], "little")] = data[2:]
        elif kind == 0x16 and len(data) >= 2:
            svc[f"0000{int.from_bytes(data[:2], 'little'):04x}{BASE_UUID}"] = data[2:]
        i += 1 + length
    return mfg, svc


def advert_of(case: dict[str, Any]) -> Advertisement:
    if "ad" in case:
        mfg, svc = ad_structures(bytes.fromhex(case["ad"]))
    else:
        raw = bytes.fromhex(case["manufacturerdata"])
        mfg = {int.from_bytes(raw[:2], "little"): raw[2:]}
        svc = {uuid: bytes.fromhex(data) for uuid, data in case.get("servicedata", {}).items()}
    return Advertisement("00:11:22:33:44:55", -60, "local", 0.0, mfg, svc)


def cited(case: dict[str, Any]) -> str:
    source = CORPUS["sources"][case["source"]]
    assert source["repository"] and (source.get("commit") or source.get("issue") or source.get("pull_request"))
    return f"{case['source']}: {case['name']}"


@pytest.mark.parametrize("case", CORPUS["must_decode"], ids=cited)
def test_frames_others_decode_are_decoded_the_same(case: dict[str, Any]) -> None:
    assert beacon_of(advert_of(case)) == (BeaconId(case["kind"], case["identifier"]), case["power"])


@pytest.mark.parametrize("case", CORPUS["must_refuse"], ids=cited)
def test_frames_that_identify_no_beacon_are_refused(case: dict[str, Any]) -> None:
    assert beacon_of(advert_of(case)) is None


def decode_message(case: dict[str, Any]) -> Advertisement:
    payload = json.dumps(case["payload"]).encode()
    if case["scanner"] == "espresense":
        return decode_espresense(case["topic"].rsplit("/", 1)[1], payload, 0.0)
    return decode_theengs(case["topic"].split("/")[1], payload, 0.0)


@pytest.mark.parametrize("case", CORPUS["messages"], ids=cited)
def test_scanner_messages_as_they_ship_are_recognised_as_the_raw_frame_would_be(case: dict[str, Any]) -> None:
    found = beacon_of(decode_message(case))
    if case["kind"] is None:
        assert found is None  # an anonymous device: heard, never identified
    else:
        assert found == (BeaconId(case["kind"], case["identifier"]), case["power"])


def test_a_decoded_message_rebuilds_the_very_frame_the_scanner_heard() -> None:
    (raw,) = [m for m in CORPUS["messages"] if m["name"].startswith("raw advertisement")]
    (decoded,) = [m for m in CORPUS["messages"] if m["name"].startswith("decoded BlueCharm")]
    rebuilt, heard = decode_message(decoded), decode_message(raw)
    assert rebuilt.manufacturer_data == heard.manufacturer_data
    assert (rebuilt.rebuilt, heard.rebuilt) == (True, False)


def test_the_mac_is_taken_from_mac_when_the_scanner_puts_the_uuid_in_id() -> None:
    (case,) = [m for m in CORPUS["messages"] if m["name"].startswith("presuseuuid")]
    assert decode_message(case).address == "60:87:57:4C:9B:C2"

"""A beacon format is one module: a format added here, in the test, works everywhere at once —
profile validation, device registration, customer imports, the passive scanner's patterns,
simulated tags, `device scan` and recognition at the door — without touching product code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent import beacons
from edge_agent.beacons import MANUFACTURER_AD, BeaconFormat
from edge_agent.config.agent import load_config
from edge_agent.config.profiles import ProfileRegistry
from edge_agent.core.events import Advertisement, BeaconId
from edge_agent.field.devices import build_device
from edge_agent.field.imports import import_customers, import_offers
from edge_agent.runtime import Agent
from edge_agent.sim.ble import BeaconScript, Keyframe, Scenario, SimulatedBleSource
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually

ACME = 0x1234  # the test format: manufacturer data of company 0x1234, "AC" then a 6-byte tag id


def _read(adv: Advertisement) -> tuple[str, int | None] | None:
    data = adv.manufacturer_data.get(ACME)
    if data is None or len(data) != 8 or not data.startswith(b"\xac"):
        return None
    return data[2:].hex(), -60


def _encode(identifier: str) -> tuple[dict[int, bytes], dict[str, bytes]]:
    return {ACME: b"\xac\x01" + bytes.fromhex(identifier)}, {}


ACME_TAG = BeaconFormat(
    kind="acmetag",
    profile="acme-tag",
    pattern=re.compile(r"^[0-9a-fA-F]{12}$"),
    expected="the 6-byte tag id in hex",
    read=_read,
    encode=_encode,
    passive=((2, MANUFACTURER_AD, b"\xac"),),
)
PROFILE = "name: acme-tag\nrole: beacon\ntransport: ble\ndecoder: acmetag\nble: {company_id: 4660}\n"


@pytest.fixture
def acme() -> Iterator[BeaconFormat]:
    beacons.register(ACME_TAG)
    try:
        yield ACME_TAG
    finally:
        beacons.unregister("acmetag")


def test_the_format_is_read_encoded_and_scanned_for_passively(acme: BeaconFormat) -> None:
    mfg, svc = beacons.advert_fields({"acmetag": "a1b2c3d4e5f6"})
    adv = Advertisement("AA:BB:CC:DD:EE:01", -55, "local", 0.0, mfg, svc)
    assert beacons.beacon_of(adv) == (BeaconId("acmetag", "a1b2c3d4e5f6"), -60)
    assert (2, MANUFACTURER_AD, b"\xac") in beacons.passive_patterns()
    with pytest.raises(ValueError, match="6-byte tag id"):
        acme.check("not-hex")


def test_profiles_and_registrations_take_the_format(acme: BeaconFormat, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "acme-tag.yaml").write_text(PROFILE)
    profiles = ProfileRegistry.load([folder])
    config = load_config(write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data"))
    device = build_device(config, profiles, "tag-1", "acme-tag", identifier="A1B2C3D4E5F6")
    assert device.identifier == "a1b2c3d4e5f6"


async def test_a_customer_with_a_tag_of_the_new_format_is_recognised_at_the_door(
    acme: BeaconFormat, tmp_path: Path
) -> None:
    config = load_config(write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", scoring={"holdout_pct": 0}))
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,display_name,consent,acmetag\nc-acme,Ada,true,A1B2C3D4E5F6\n")
    offers = tmp_path / "offers.json"
    offers.write_text(json.dumps([{"offer_id": "o-1", "title": "Ten off", "category": "shoes"}]))
    conn = connect(config.db_path)
    assert import_customers(conn, customers).ok
    assert import_offers(conn, offers).ok
    conn.close()
    tag = BeaconScript(
        address="AA:BB:CC:00:00:01",
        acmetag="a1b2c3d4e5f6",  # type: ignore[call-arg]  # a format's name is a key of its own
        interval_s=0.2,
        path=[Keyframe(t=0, rssi=-90), Keyframe(t=1, rssi=-50), Keyframe(t=30, rssi=-50)],
    )
    async with running_agent(Agent(config, [SimulatedBleSource(Scenario(duration_s=30, beacons=[tag]))])) as agent:
        assert agent.runtime is not None
        hub = agent.runtime.hub
        await eventually(lambda: bool(hub.recent()), within=15)
        assert hub.recent()[0].alert.customer_id == "c-acme"

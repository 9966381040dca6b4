"""The local-adapter source on bleak's real BlueZ backend, against a mocked bluetoothd on a
private D-Bus system bus: discovery, passive monitors, an adapter that vanishes, no BlueZ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from edge_agent.beacons import passive_patterns
from edge_agent.config.agent import BleConfig
from edge_agent.core.events import Advertisement
from edge_agent.core.tasks import cancel_and_wait
from edge_agent.field.scan import ScanError, scan_ble
from edge_agent.links import LinkState
from edge_agent.sources.base import SourceEvent
from edge_agent.sources.ble.bleak import BleakSource
from edge_agent.testing.bluez import BlueZ, bluez
from edge_agent.testing.wait import eventually

UUID = bytes.fromhex("f7826da64fa24e988024bc5b71e0893e")
IBEACON = {0x004C: b"\x02\x15" + UUID + b"\x00\x01\x00\x02\xc5"}
EDDYSTONE_UID = {"0000feaa-0000-1000-8000-00805f9b34fb": b"\x00\xee" + bytes(range(16))}
NO_ADAPTER = "no Bluetooth adapter hci0 found: check `hciconfig` and `rfkill unblock bluetooth`"
NOT_A_BEACON = {0x0075: b"\x42\x04\x01\x80"}  # a phone's manufacturer blob


class Collected:
    """Runs a source's link and keeps what it yields."""

    def __init__(self, source: BleakSource) -> None:
        self.source = source
        self.seen: list[Advertisement] = []
        self.task = asyncio.create_task(source.link.run(source.connect, self._serve))

    async def _serve(self, events: AsyncIterator[SourceEvent]) -> None:
        async for event in events:
            assert isinstance(event, Advertisement)
            self.seen.append(event)

    def of(self, address: str) -> list[Advertisement]:
        return [a for a in self.seen if a.address == address]

    async def stop(self) -> None:
        await cancel_and_wait([self.task])


async def until_heard(radio: BlueZ, collected: Collected, address: str, **advert: object) -> Advertisement:
    async def heard() -> bool:
        await radio.advertise(address, -58, **advert)  # type: ignore[arg-type]
        return bool(collected.of(address))

    await eventually(heard, within=20)
    return collected.of(address)[-1]


async def test_active_discovery_reports_adverts_and_their_changes() -> None:
    async with bluez() as radio:
        collected = Collected(BleakSource(BleConfig(mode="active")))
        try:
            first = await until_heard(radio, collected, "C0:FF:EE:00:00:01", manufacturer_data=IBEACON)
            assert first.manufacturer_data == IBEACON and first.rssi == -58 and first.scanner == "local"
            assert await radio.discovering()
            assert collected.source.link.state is LinkState.CONNECTED
            await radio.advertise("C0:FF:EE:00:00:01", -71, manufacturer_data=IBEACON)  # PropertiesChanged
            await eventually(lambda: collected.of("C0:FF:EE:00:00:01")[-1].rssi == -71)
            phone = await until_heard(radio, collected, "C0:FF:EE:00:00:02", manufacturer_data=NOT_A_BEACON)
            assert phone.manufacturer_data == NOT_A_BEACON  # active discovery hears everything
            eddystone = await until_heard(radio, collected, "C0:FF:EE:00:00:03", service_data=EDDYSTONE_UID)
            assert eddystone.service_data == EDDYSTONE_UID
        finally:
            await collected.stop()
        assert not await radio.discovering()  # the scan was stopped on the way out


async def test_passive_mode_registers_each_formats_pattern_and_hears_only_beacons() -> None:
    async with bluez() as radio:
        collected = Collected(BleakSource(BleConfig(mode="passive")))
        try:
            await eventually(radio.monitors, within=20)
            (monitor,) = await radio.monitors()
            assert sorted(monitor.patterns) == sorted(passive_patterns())
            assert not await radio.discovering()  # no active scan: nothing is asked of phones
            first = await until_heard(radio, collected, "C0:FF:EE:00:00:01", manufacturer_data=IBEACON)
            assert first.manufacturer_data == IBEACON
            assert await until_heard(radio, collected, "C0:FF:EE:00:00:03", service_data=EDDYSTONE_UID)
            assert not await radio.advertise("C0:FF:EE:00:00:02", -50, manufacturer_data=NOT_A_BEACON)
            assert radio.found[monitor.path] == {radio.devices["C0:FF:EE:00:00:01"], radio.devices["C0:FF:EE:00:00:03"]}
        finally:
            await collected.stop()
        assert await radio.monitors() == []  # unregistered on stop
        assert not collected.of("C0:FF:EE:00:00:02")


async def test_an_adapter_that_vanishes_is_restarted_by_the_watchdog_once_it_is_back() -> None:
    async with bluez() as radio:
        collected = Collected(BleakSource(BleConfig(mode="active"), watchdog_s=1.0))
        try:
            await until_heard(radio, collected, "C0:FF:EE:00:00:01", manufacturer_data=IBEACON)
            await radio.remove_adapter()
            await eventually(lambda: collected.source.watchdog_restarts >= 1, within=20)
            link = collected.source.link
            await eventually(lambda: link.failures >= 2, within=30)  # the stall, then a start with no adapter
            assert link.state is not LinkState.CONNECTED
            assert link.last_error == NO_ADAPTER
            before = len(collected.seen)
            await radio.add_adapter()
            await until_heard(radio, collected, "C0:FF:EE:00:00:09", manufacturer_data=IBEACON)
            assert len(collected.seen) > before
            await eventually(lambda: collected.source.link.state is LinkState.CONNECTED)
        finally:
            await collected.stop()


async def test_no_bluez_is_a_one_line_fix_for_the_field_engineer() -> None:
    async with bluez(running=False):
        with pytest.raises(ScanError) as failure:
            await scan_ble(BleConfig(mode="active"), 1.0, registered={})
    assert str(failure.value) == (
        "BlueZ is not running (no D-Bus system bus or bluetoothd): sudo systemctl start dbus bluetooth"
    )


async def test_no_adapter_says_so() -> None:
    async with bluez(adapter=False):
        with pytest.raises(ScanError, match="no Bluetooth adapter hci0 found"):
            await scan_ble(BleConfig(mode="active"), 1.0, registered={})

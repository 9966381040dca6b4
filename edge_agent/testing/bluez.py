"""BlueZ on a private D-Bus system bus: python-dbusmock's `bluez5` template, plus the part of
BlueZ the template leaves out (passive scanning through advertisement monitors).

`BlueZ` starts its own `dbus-daemon` and the mock service, points `DBUS_SYSTEM_BUS_ADDRESS` at
them, and drives the radio side: adapters that come and go, devices that advertise. bleak (and
so `BleakSource`) talks to it exactly as it talks to bluetoothd on a box.

The mock runs in the system Python (Debian's python3-dbus and python3-gi), with
python-dbusmock from `$EDGE_AGENT_DBUSMOCK` or `<venv>/dbusmock` — `make test` installs both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

BLUEZ = "org.bluez"
MOCK = "org.bluez.Mock"
DBUS_MOCK = "org.freedesktop.DBus.Mock"
DEVICE = "org.bluez.Device1"
ADAPTER = "org.bluez.Adapter1"
MONITOR = "org.bluez.AdvertisementMonitor1"
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
MANUFACTURER_AD, SERVICE_DATA_16_AD = 0xFF, 0x16

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class BlueZUnavailable(RuntimeError):
    """This machine lacks what the mock needs (dbus-daemon, python3-dbus, python-dbusmock)."""


def mock_python() -> tuple[str, dict[str, str]]:
    """The interpreter and environment that can run python-dbusmock."""
    target = Path(os.environ.get("EDGE_AGENT_DBUSMOCK", Path(sys.prefix) / "dbusmock"))
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run([python, "-c", "import dbus, gi, dbusmock"], env=env, capture_output=True)
    if probe.returncode != 0 or shutil.which("dbus-daemon") is None:
        raise BlueZUnavailable(
            f"the BlueZ mock needs dbus-daemon, python3-dbus and python3-gi for {python}, and python-dbusmock "
            f"in {target} (make test installs them): {probe.stderr.decode().strip().splitlines()[-1:]}"
        )
    return python, env


@contextlib.contextmanager
def system_bus() -> Iterator[str]:
    """A private D-Bus system bus; yields its address."""
    with tempfile.TemporaryDirectory(prefix="edge-agent-dbus-") as tmp:
        socket = Path(tmp) / "system_bus_socket"
        config = Path(tmp) / "system.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket))
        daemon = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert daemon.stdout is not None
            yield daemon.stdout.readline().decode().strip()
        finally:
            daemon.terminate()
            daemon.wait(10)


def ad_bytes(manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]) -> list[tuple[int, bytes]]:
    """An advert's AD structures as BlueZ matches monitor patterns against them: (type, payload)."""
    out = [(MANUFACTURER_AD, company.to_bytes(2, "little") + data) for company, data in manufacturer_data.items()]
    for uuid, data in service_data.items():
        out.append((SERVICE_DATA_16_AD, int(uuid[4:8], 16).to_bytes(2, "little") + data))
    return out


def matches(patterns: list[tuple[int, int, bytes]], ads: list[tuple[int, bytes]]) -> bool:
    return any(
        kind == t and ad[start : start + len(value)] == value for start, t, value in patterns for kind, ad in ads
    )


@dataclass(slots=True)
class Monitor:
    """An advertisement monitor a client registered: where it lives and what it asked for."""

    owner: str
    path: str
    patterns: list[tuple[int, int, bytes]]


@dataclass
class BlueZ:
    """The radio side of a mocked bluetoothd, driven over D-Bus."""

    bus: MessageBus
    adapter: str = "hci0"
    devices: dict[str, str] = field(default_factory=dict)
    found: dict[str, set[str]] = field(default_factory=dict)

    async def call(self, path: str, interface: str, member: str, signature: str = "", *body: Any) -> list[Any]:
        reply = await self.bus.call(
            Message(
                destination=BLUEZ, path=path, interface=interface, member=member, signature=signature, body=list(body)
            )
        )
        assert reply is not None
        if reply.message_type is MessageType.ERROR:
            raise RuntimeError(f"{member}: {reply.error_name} {reply.body}")
        return list(reply.body)

    async def add_adapter(self, name: str = "hci0") -> None:
        self.adapter = name
        await self.call("/org/bluez", MOCK, "AddAdapter", "ss", name, "edge-box")
        self.devices.clear()
        self.found.clear()

    async def remove_adapter(self) -> None:
        """The adapter vanishes (USB dongle pulled, firmware crash): its devices go with it."""
        await self.call("/org/bluez", MOCK, "RemoveAdapterWithDevices", "s", self.adapter)

    async def discovering(self) -> bool:
        path = f"/org/bluez/{self.adapter}"
        (value,) = await self.call(path, PROPERTIES, "Get", "ss", ADAPTER, "Discovering")
        return bool(value.value)

    async def monitors(self) -> list[Monitor]:
        """Registered advertisement monitors, read back from their owners as bluetoothd does."""
        path = f"/org/bluez/{self.adapter}"
        (calls,) = await self.call(path, DBUS_MOCK, "GetMethodCalls", "s", "RegisterMonitor")
        (gone,) = await self.call(path, DBUS_MOCK, "GetMethodCalls", "s", "UnregisterMonitor")
        live = [a[0].value for _, a in calls]
        for _, args in gone:
            live.remove(args[0].value)
        return [m for path in live if (m := await self._monitor(path)) is not None]

    async def _monitor(self, path: str) -> Monitor | None:
        # The mock does not record who registered; bluetoothd would know. Ask every client.
        names = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="ListNames",
            )
        )
        assert names is not None
        for owner in (n for n in names.body[0] if n.startswith(":") and n != self.bus.unique_name):
            reply = await self.bus.call(
                Message(
                    destination=owner,
                    path=path,
                    interface=PROPERTIES,
                    member="Get",
                    signature="ss",
                    body=[MONITOR, "Patterns"],
                )
            )
            if reply is not None and reply.message_type is MessageType.METHOD_RETURN:
                return Monitor(owner, path, [(s, t, bytes(v)) for s, t, v in reply.body[0].value])
        return None

    async def advertise(
        self,
        address: str,
        rssi: int,
        *,
        manufacturer_data: Mapping[int, bytes] | None = None,
        service_data: Mapping[str, bytes] | None = None,
    ) -> bool:
        """A device's advert reaches the adapter; returns whether BlueZ reported it to anyone.

        Active discovery reports every advert; passive monitors only those matching their
        patterns (and are told so through DeviceFound); with neither, nobody hears it.
        """
        manufacturer_data, service_data = manufacturer_data or {}, service_data or {}
        passive = [] if await self.discovering() else await self.monitors()
        wanted = [m for m in passive if matches(m.patterns, ad_bytes(manufacturer_data, service_data))]
        if not await self.discovering() and not wanted:
            return False
        props = {
            "RSSI": Variant("n", rssi),
            "ManufacturerData": Variant("a{qv}", {k: Variant("ay", v) for k, v in manufacturer_data.items()}),
            "ServiceData": Variant("a{sv}", {k: Variant("ay", v) for k, v in service_data.items()}),
        }
        path = await self._device(address, props)
        for monitor in wanted:
            if path not in self.found.setdefault(monitor.path, set()):
                self.found[monitor.path].add(path)
                await self.bus.call(
                    Message(
                        destination=monitor.owner,
                        path=monitor.path,
                        interface=MONITOR,
                        member="DeviceFound",
                        signature="o",
                        body=[path],
                    )
                )
        return True

    async def _device(self, address: str, advert: dict[str, Variant]) -> str:
        """The device's object: new ones appear with their advert (InterfacesAdded), as bluetoothd
        does; known ones change (PropertiesChanged)."""
        path = self.devices.get(address)
        if path is not None:
            await self.call(path, DBUS_MOCK, "UpdateProperties", "sa{sv}", DEVICE, advert)
            return path
        path = f"/org/bluez/{self.adapter}/dev_{address.replace(':', '_')}"
        props = {
            "Address": Variant("s", address),
            "AddressType": Variant("s", "random"),
            "Alias": Variant("s", address.replace(":", "-")),
            "Adapter": Variant("o", f"/org/bluez/{self.adapter}"),
            "Paired": Variant("b", False),
            "Connected": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "UUIDs": Variant("as", []),
            **advert,
        }
        await self.call("/org/bluez", DBUS_MOCK, "AddObject", "ssa{sv}a(ssss)", path, DEVICE, props, [])
        added = [Variant("o", path), Variant("a{sa{sv}}", {DEVICE: props})]
        await self.call("/", DBUS_MOCK, "EmitSignal", "sssav", OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", added)
        self.devices[address] = path
        return path


@asynccontextmanager
async def bluez(*, adapter: bool = True, running: bool = True) -> AsyncIterator[BlueZ]:
    """A private system bus with a mocked bluetoothd (unless `running` is false) and one adapter.

    Sets DBUS_SYSTEM_BUS_ADDRESS for the duration, so bleak in this process finds it.
    """
    python, env = mock_python()
    with system_bus() as address:
        previous = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        env["DBUS_SYSTEM_BUS_ADDRESS"] = address
        mock = None
        if running:
            mock = await asyncio.create_subprocess_exec(
                *(python, "-m", "dbusmock", "--system", "--template", "bluez5"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
        try:
            radio = BlueZ(bus)
            if mock is not None:
                await _owned(bus, BLUEZ)
                if adapter:
                    await radio.add_adapter()
            yield radio
        finally:
            bus.disconnect()
            if mock is not None:
                mock.terminate()
                await mock.wait()
            if previous is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = previous


async def _owned(bus: MessageBus, name: str, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while True:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=[name],
                )
            )
            if reply is not None and reply.body and reply.body[0]:
                return
            await asyncio.sleep(0.05)

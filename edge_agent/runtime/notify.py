"""systemd's notify protocol (READY=1, WATCHDOG=1, STOPPING=1) without a dependency."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

from ..core.component import Component, Status


def notify(message: str) -> bool:
    """Send `message` to $NOTIFY_SOCKET; False when not run by systemd (or the send failed)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec (from $WATCHDOG_USEC), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 1e6 / 2


class Watchdog(Component):
    """Feeds systemd's watchdog while `healthy()` holds, so a wedged agent is restarted."""

    name = "watchdog"

    def __init__(self, interval: float, healthy: Callable[[], bool]) -> None:
        self._interval = interval
        self._healthy = healthy
        self.fed = 0

    async def run(self) -> None:
        while True:
            if self._healthy():
                notify("WATCHDOG=1")
                self.fed += 1
            await asyncio.sleep(self._interval)

    def status(self) -> Status:
        return Status(self.name, "watchdog", body={"interval_s": self._interval, "fed": self.fed})

"""Fake serial hardware on real pseudo-terminals: a sensor you can unplug and replug."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from pathlib import Path
from types import TracebackType
from typing import Self


def _raw_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave


class PtyPort:
    """A pseudo-terminal whose slave side is reachable at a stable symlink `path`.

    The device side writes to and reads from the master; the agent opens `path` like a real
    /dev/ttyUSB0. `unplug()` closes both ends (the agent sees the port vanish); `replug()`
    creates a new pseudo-terminal behind the same symlink.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.master = -1
        self._slave = -1

    def plug(self) -> None:
        self.master, self._slave = _raw_pty()
        tmp = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(self._slave))
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        for fd in (self.master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._slave = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def replug(self) -> None:
        self.unplug()
        self.plug()

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def __enter__(self) -> Self:
        self.plug()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unplug()


class PtyBridge:
    """Two pseudo-terminals wired back to back (like a null-modem cable), for Modbus servers."""

    def __init__(self, a: Path, b: Path) -> None:
        self.a, self.b = PtyPort(a), PtyPort(b)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.a.plug()
        self.b.plug()
        self._thread = threading.Thread(target=self._pump, name="pty-bridge", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.a.unplug()
        self.b.unplug()

    def _pump(self) -> None:
        ends = {self.a.master: self.b.master, self.b.master: self.a.master}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(ends), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                with contextlib.suppress(OSError):
                    os.write(ends[fd], data)

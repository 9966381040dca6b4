"""A real small filesystem for fault tests: a tmpfs that fills, grows and goes read-only (root only)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


def can_mount() -> bool:
    """True where this process may mount a tmpfs (root, with the capability)."""
    return os.geteuid() == 0 and _run("mount", "--version") == 0


def _run(*args: str) -> int:
    return subprocess.run(args, capture_output=True, check=False).returncode


class SmallDisk:
    """`with SmallDisk(path, 4) as disk:` — `path` is a 4 MiB tmpfs until the block ends."""

    def __init__(self, path: Path, size_mb: float) -> None:
        self.path = path
        self.size_mb = size_mb

    def __enter__(self) -> Self:
        self.path.mkdir(parents=True, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", f"size={self._kb(self.size_mb)}k,mode=0700", "tmpfs")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)

    def grow(self, size_mb: float) -> None:
        """More room, as when files are deleted elsewhere on the card."""
        self.size_mb = size_mb
        self._mount("-o", f"remount,size={self._kb(size_mb)}k")

    def read_only(self) -> None:
        self._mount("-o", "remount,ro")

    def writable(self) -> None:
        self._mount("-o", "remount,rw")

    def _mount(self, *args: str) -> None:
        subprocess.run(["mount", *args, str(self.path)], capture_output=True, check=True)

    @staticmethod
    def _kb(size_mb: float) -> int:
        return int(size_mb * 1024)

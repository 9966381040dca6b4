"""A private PostgreSQL (Debian's binaries: initdb and pg_ctl in a temp dir, a free loopback port).

The machine's own PostgreSQL service, if any, is left alone. As root, the cluster is owned by and
run as the `postgres` user (initdb refuses root), through `runuser`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from edge_agent.sim.broker import free_port, wait_for_port


def pg_bin() -> Path | None:
    for version in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version / "initdb").exists():
            return version
    return None


class PostgresServer:
    def __init__(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL not found; install it (apt-get install postgresql)")
        self.bin = binaries
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="edge-agent-pg-")
        self.dir = Path(self._tmp.name)
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else getpass.getuser()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)

    def _init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync"),
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        if not self.data.exists():
            self._init()
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=on -c max_connections=60"
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                           "-w", "start"),
            check=True, capture_output=True,
        )  # fmt: skip
        wait_for_port(self.port, 30)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
            capture_output=True,
        )  # fmt: skip

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop("immediate")
        self._tmp.cleanup()

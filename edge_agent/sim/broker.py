"""A real mosquitto broker on a free loopback port, which tests can stop and restart."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0, *, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


class MosquittoBroker:
    """`with MosquittoBroker() as b:` runs mosquitto on `b.port`; `stop()`/`start()` keep the port.

    Persistence is on, so QoS 1 sessions survive a restart like a production broker's.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        extra_config: str = "",
        workdir: Path | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto not found; install it (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="edge-agent-mosquitto-") if workdir is None else None
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.extra_config = extra_config
        self.tls = tls  # (CA, server certificate, server key): TLS listener requiring client certificates
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # Started as root, mosquitto drops to user `mosquitto` and then cannot write its
            # persistence file in our temp dir; staying the current user keeps sessions across restarts.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {self.workdir}/mosquitto.log\n"
            f"{self._tls_lines()}"
            f"{self.extra_config}\n"
        )
        return conf

    def _tls_lines(self) -> str:
        if self.tls is None:
            return ""
        ca, cert, key = self.tls
        return f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\nuse_identity_as_username true\n"

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        conf = self._write_config()
        self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self._proc.kill()
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {err.strip()}") from None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), so persistence is written like on a real restart."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def pause(self) -> None:
        """SIGSTOP: the broker hangs with every connection open (a wedged process, a frozen VM)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

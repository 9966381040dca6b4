"""The brokers chains run, started privately on free loopback ports (as `MosquittoBroker` is).

RabbitMQ's MQTT plugin and NATS's MQTT listener speak MQTT 3.1.1 only, have no QoS 2 (RabbitMQ
grants QoS 1 for a QoS 2 subscription, NATS too) and map topics onto routing keys or subjects
with `.` as a separator. Each broker here is a process of the test's own with its own data
directory, so a test can stop, kill and restart it; nothing touches the machine's services.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from edge_agent.sim.broker import MosquittoBroker, free_port, wait_for_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # Debian's; /usr/sbin's wrapper drops root for user rabbitmq


def nats_binary() -> str | None:
    return shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)


def rabbitmq_available() -> bool:
    return Path(RABBITMQ_SERVER).exists()


class _Process:
    """A broker process on `self.port` with a private work dir; subclasses say how to start it."""

    name = "broker"
    start_timeout_s = 10.0

    def __init__(self) -> None:
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"edge-agent-{self.name}-")
        self.workdir = Path(self._tmp.name)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> None:
        if self.running:
            return
        command, env = self._command()
        with (self.workdir / "broker.log").open("ab") as log:
            self._proc = subprocess.Popen(
                command, env={**os.environ, **env}, cwd=self.workdir, stdout=log, stderr=log, start_new_session=True
            )
        try:
            wait_for_port(self.port, self.start_timeout_s)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"{self.name} did not start on port {self.port}:\n{self.log()[-3000:]}") from None

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, sig)

    def stop(self) -> None:
        """Graceful stop, so the broker writes its sessions like on a real restart."""
        if self._proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        path = self.workdir / "broker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._tmp.cleanup()


class NatsBroker(_Process):
    """nats-server with JetStream and its MQTT listener (MQTT sessions live in JetStream)."""

    name = "nats"

    def __init__(self) -> None:
        super().__init__()
        self.client_port = free_port()

    def _command(self) -> tuple[list[str], dict[str, str]]:
        binary = nats_binary()
        if binary is None:
            raise FileNotFoundError("nats-server not found; install it (apt-get install nats-server)")
        conf = self.workdir / "nats.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.client_port}\n"
            "server_name: edge_agent_test\n"
            f'jetstream {{ store_dir: "{self.workdir}/js" }}\n'
            # ack_wait: how long NATS waits before it redelivers what a dead client never acknowledged
            # (30 s by default); a chain tunes it, the tests need not wait half a minute per kill
            f'mqtt {{ listen: 127.0.0.1:{self.port}, ack_wait: "3s" }}\n'
        )
        return [binary, "-c", str(conf)], {}


class RabbitBroker(_Process):
    """A RabbitMQ node of its own (own node name, ports, Mnesia dir and Erlang cookie) with the
    MQTT plugin; the machine's RabbitMQ service, if any, is another node and is left alone."""

    name = "rabbitmq"
    start_timeout_s = 90.0  # an Erlang node boots in 5-30 s on two busy cores

    def __init__(self) -> None:
        super().__init__()
        self.node_port, self.dist_port = free_port(), free_port()
        self.node = f"edgetest{self.port}@localhost"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        if not rabbitmq_available():
            raise FileNotFoundError("rabbitmq-server not found; install it (apt-get install rabbitmq-server)")
        conf = self.workdir / "rabbitmq.conf"
        conf.write_text(
            "listeners.tcp = none\n"
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "mqtt.allow_anonymous = true\n"
            "loopback_users = none\n"
        )
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        env = {
            "HOME": str(self.workdir),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.node_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
        }
        return [RABBITMQ_SERVER], env


Broker = MosquittoBroker | NatsBroker | RabbitBroker


def make_broker(kind: str) -> Broker:
    return {"mosquitto": MosquittoBroker, "nats": NatsBroker, "rabbitmq": RabbitBroker}[kind]()

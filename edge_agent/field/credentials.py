"""Per-device MQTT credentials: a mosquitto password entry and ACL lines for the device's own topics."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..config.agent import AgentConfig
from ..core.errors import DeviceError
from ..core.events import Device


def pbkdf2_entry(user: str, password: str, *, iterations: int = 101, salt: bytes | None = None) -> str:
    """A mosquitto 2 password-file line (`$7$`: PBKDF2-SHA512, 12-byte salt, 64-byte hash)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"{user}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_entry(user: str, password: str) -> str:
    """Hashed by `mosquitto_passwd` when it is installed, else by our compatible PBKDF2."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        return pbkdf2_entry(user, password)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "passwd"
        subprocess.run([tool, "-c", "-b", str(path), user, password], check=True, capture_output=True, timeout=30)
        return path.read_text().strip()


AGENT_USER = "edge-agent"


def acl_lines(device: Device, config: AgentConfig) -> list[str]:
    """What the device may publish and read: its own topics, nothing else."""
    prefix = config.topic_prefix
    if device.id == AGENT_USER:
        return ["topic readwrite #"]  # the agent itself: everything on the store broker
    if device.profile == "smart-mirror":
        return [
            f"topic write {prefix}/mirror/{device.id}/events",
            f"topic read {prefix}/mirror/{device.id}/suggestions",
        ]
    if device.profile in ("theengs-remote-scanner", "openmqttgateway-scanner"):
        return [f"topic write +/{device.id}/BTtoMQTT/#"]
    if device.profile == "espresense-scanner":  # the room node: its devices, and its own telemetry
        return [f"topic write espresense/devices/+/{device.id}", f"topic write espresense/rooms/{device.id}/#"]
    if device.topic:
        return [f"topic write {device.topic}"]
    raise DeviceError(f"device {device.id} has no MQTT topic to grant")


def _replace_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def grant_agent(config: AgentConfig, password: str | None = None) -> str:
    """Broker credentials for the agent itself (`edge-agent init --broker-credentials` uses them)."""
    return grant(Device(AGENT_USER, "edge-agent", "mqtt"), config, password)


def grant(device: Device, config: AgentConfig, password: str | None = None) -> str:
    """Add (or replace) the device's password and ACL; returns the password to give the device."""
    password = password or secrets.token_urlsafe(18)
    rules = acl_lines(device, config)
    revoke(device.id, config)
    passwd, acl = config.mqtt_password_file, config.mqtt_acl_file
    existing = passwd.read_text() if passwd.exists() else ""
    _replace_atomically(passwd, existing + password_entry(device.id, password) + "\n")
    block = "\n".join([f"# device {device.id}", f"user {device.id}", *rules]) + "\n\n"
    _replace_atomically(acl, (acl.read_text() if acl.exists() else "") + block)
    return password


def revoke(device_id: str, config: AgentConfig) -> bool:
    """Remove the device's password entry and ACL block; True if it had any."""
    found = False
    passwd, acl = config.mqtt_password_file, config.mqtt_acl_file
    if passwd.exists():
        lines = passwd.read_text().splitlines()
        kept = [line for line in lines if line.split(":", 1)[0] != device_id]
        found |= len(kept) != len(lines)
        _replace_atomically(passwd, "".join(f"{line}\n" for line in kept))
    if acl.exists():
        blocks = [b for b in acl.read_text().split("\n\n") if b.strip()]
        kept_blocks = [b for b in blocks if f"\nuser {device_id}\n" not in f"\n{b.strip()}\n"]
        found |= len(kept_blocks) != len(blocks)
        _replace_atomically(acl, "".join(f"{b.strip()}\n\n" for b in kept_blocks))
    return found

"""Declarative device profiles (`device_profiles/*.yaml` and `<data_dir>/profiles/*.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import beacons
from ..core.errors import ProfileError
from .yamlio import validate_file

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

OTHER_DECODERS = ("json", "line", "modbus")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resource(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    type: Literal["int", "float", "bool", "string", "int16", "uint16", "int32", "uint32", "float32"]
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    min: float | None = None
    max: float | None = None
    # `register` in YAML; renamed here because BaseModel already has a `register` attribute.
    address: Annotated[int | None, Field(alias="register", ge=0, le=65535)] = None
    key: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _range(self) -> Resource:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    @property
    def registers(self) -> int:
        return 2 if self.type in ("int32", "uint32", "float32") else 1


class BleMatch(_Model):
    company_id: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    service_uuid: str | None = None
    ibeacon_uuid: Annotated[str, Field(pattern=rf"^{UUID_RE}$")] | None = None


class SerialSettings(_Model):
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    framing: Literal["line", "rtu"] = "line"
    line_format: Literal["csv", "kv"] | None = None
    checksum: Literal["none", "xor"] = "none"
    stale_after_s: Annotated[float, Field(gt=0)] = 60.0


class ModbusSettings(_Model):
    unit_id: Annotated[int, Field(ge=1, le=247)] = 1
    function: Literal["holding", "input"] = "holding"
    poll_s: Annotated[float, Field(gt=0)] = 5.0
    timeout_s: Annotated[float, Field(gt=0)] = 1.0


class MqttMatch(_Model):
    topic: str

    @field_validator("topic")
    @classmethod
    def _template(cls, value: str) -> str:
        unknown = set(re.findall(r"{(\w*)}", value)) - {"topic_prefix", "device_id"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{topic_prefix}} or {{device_id}}")
        return value


class DeviceProfile(_Model):
    name: Name
    description: str = ""
    manufacturer: str | None = None
    role: Literal["beacon", "sensor", "scanner", "mirror", "counter", "pos"]
    transport: Literal["ble", "serial", "mqtt"]
    decoder: str  # a beacon format (`beacons/`) or one of OTHER_DECODERS
    ble: BleMatch | None = None
    serial: SerialSettings | None = None
    modbus: ModbusSettings | None = None
    mqtt: MqttMatch | None = None
    resources: list[Resource] = []

    @field_validator("decoder")
    @classmethod
    def _decoder(cls, value: str) -> str:
        known = (*beacons.kinds(), *OTHER_DECODERS)
        if value not in known:
            raise ValueError(f"unknown decoder {value!r} (expected one of: {', '.join(known)})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
        t, d = self.transport, self.decoder
        if t == "ble" and (self.ble is None or d not in beacons.kinds()):
            raise ValueError(f"a ble profile needs a 'ble' block and a decoder among {', '.join(beacons.kinds())}")
        if t == "serial":
            if self.serial is None or d not in ("line", "modbus"):
                raise ValueError("a serial profile needs a 'serial' block and decoder 'line' or 'modbus'")
            if d == "modbus" and (self.modbus is None or self.serial.framing != "rtu"):
                raise ValueError("decoder 'modbus' needs a 'modbus' block and serial.framing 'rtu'")
            if d == "modbus":
                missing = [r.name for r in self.resources if r.address is None]
                if missing or not self.resources:
                    raise ValueError(
                        f"every modbus resource needs a 'register' (missing on: {', '.join(missing) or 'none defined'})"
                    )
            if d == "line" and self.serial.line_format is None:
                raise ValueError("decoder 'line' needs serial.line_format 'csv' or 'kv'")
        if t == "mqtt" and (self.mqtt is None or d != "json"):
            raise ValueError("an mqtt profile needs an 'mqtt' block with its topic and decoder 'json'")
        names = [r.name for r in self.resources]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"resource {sorted(dupes)[0]!r} is defined twice")
        return self

    def check_identifier(self, identifier: str) -> str:
        """Normalise a BLE identifier for this profile's decoder, or raise ValueError."""
        try:
            return beacons.get(self.decoder).check(identifier)
        except ValueError as exc:
            raise ValueError(f"identifier {exc}") from None


def shipped_profiles_dir() -> Path:
    """The profiles shipped with the package."""
    return Path(str(resources.files("edge_agent.device_profiles")))


def load_profile(path: Path) -> DeviceProfile:
    return validate_file(DeviceProfile, path, ProfileError)


class ProfileRegistry:
    """Shipped profiles, overridden by site-specific ones of the same name."""

    def __init__(self, profiles: dict[str, tuple[DeviceProfile, Path]]) -> None:
        self._profiles = profiles

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = ()) -> ProfileRegistry:
        found: dict[str, tuple[DeviceProfile, Path]] = {}
        for folder in (shipped_profiles_dir(), *extra_dirs):
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.yaml")):
                profile = load_profile(path)
                if profile.name != path.stem:
                    raise ProfileError(f"{path}:1: name: profile {profile.name!r} must live in {profile.name}.yaml")
                found[profile.name] = (profile, path)
        return cls(found)

    def names(self) -> list[str]:
        return sorted(self._profiles)

    def get(self, name: str) -> DeviceProfile:
        try:
            return self._profiles[name][0]
        except KeyError:
            raise ProfileError(f"unknown profile {name!r} (known: {', '.join(self.names())})") from None

    def path(self, name: str) -> Path:
        self.get(name)
        return self._profiles[name][1]

    def all(self) -> list[tuple[DeviceProfile, Path]]:
        return [self._profiles[n] for n in self.names()]

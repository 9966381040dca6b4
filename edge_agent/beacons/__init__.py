"""Beacon formats: one module per format, each declaring everything the agent needs of it.

A format (`BeaconFormat`) says how to read its identifier out of an advertisement, what an
identifier looks like in a customer import or a device registration (its column is the
format's `kind`), which BlueZ advertisement-monitor pattern lets a passive scan see it, which
shipped profile describes its tags, and how a simulator advertises it. Adding a format means a
module here that calls `register()`, a profile in `device_profiles/` and its tests; the
decoders, imports, profiles, `device scan`, the passive scanner and the simulators consult
this registry instead of naming formats themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..core.events import Advertisement, BeaconId

# (manufacturer data by company id, service data by UUID) an advertisement carries
AdvertFields = tuple[dict[int, bytes], dict[str, bytes]]
# BlueZ `or_patterns` entry: (position in the AD structure, AD type, bytes)
PassivePattern = tuple[int, int, bytes]

MANUFACTURER_AD = 0xFF
SERVICE_DATA_16_AD = 0x16


@dataclass(frozen=True, slots=True)
class BeaconFormat:
    """Everything the agent knows about one beacon format (see the module docstring)."""

    kind: str  # BeaconId.kind, the customer-import column and the profile decoder name
    profile: str  # the shipped device profile of tags in this format
    pattern: re.Pattern[str]  # an identifier as written in imports and `device add --identifier`
    expected: str  # how to write one, for error messages
    read: Callable[[Advertisement], tuple[str, int | None] | None]  # identifier and calibrated power
    encode: Callable[[str], AdvertFields]  # what a simulated tag advertises for an identifier
    passive: tuple[PassivePattern, ...] = ()
    normalise: Callable[[str], str] = str.lower  # the canonical form of a valid identifier

    def check(self, identifier: str) -> str:
        """The canonical identifier, or ValueError saying what was expected."""
        if not self.pattern.match(identifier):
            raise ValueError(f"{identifier!r} is not {self.expected}")
        return self.normalise(identifier)


_FORMATS: dict[str, BeaconFormat] = {}


def register(fmt: BeaconFormat) -> BeaconFormat:
    """Add a format; the ones registered first are tried first when reading an advertisement."""
    if fmt.kind in _FORMATS or fmt.kind in ("rotating", "checkin"):
        raise ValueError(f"beacon format {fmt.kind!r} is already registered")
    _FORMATS[fmt.kind] = fmt
    return fmt


def unregister(kind: str) -> None:
    """Remove a format (tests that add one of their own)."""
    _FORMATS.pop(kind, None)


def formats() -> tuple[BeaconFormat, ...]:
    return tuple(_FORMATS.values())


def kinds() -> tuple[str, ...]:
    return tuple(_FORMATS)


def get(kind: str) -> BeaconFormat:
    try:
        return _FORMATS[kind]
    except KeyError:
        raise ValueError(f"unknown beacon format {kind!r} (known: {', '.join(_FORMATS)})") from None


def beacon_of(adv: Advertisement) -> tuple[BeaconId, int | None] | None:
    """The identifying beacon frame in an advertisement, with its calibrated power."""
    for fmt in _FORMATS.values():
        found = fmt.read(adv)
        if found is not None:
            return BeaconId(fmt.kind, found[0]), found[1]
    return None


def advert_fields(identifiers: Mapping[str, str]) -> AdvertFields:
    """Manufacturer and service data advertising every `kind → identifier` given."""
    mfg: dict[int, bytes] = {}
    svc: dict[str, bytes] = {}
    for kind, identifier in identifiers.items():
        more_mfg, more_svc = get(kind).encode(identifier)
        mfg.update(more_mfg)
        svc.update(more_svc)
    return mfg, svc


def passive_patterns() -> list[PassivePattern]:
    """BlueZ advertisement-monitor patterns matching every registered format."""
    return [p for fmt in _FORMATS.values() for p in fmt.passive]


# The shipped formats, in the order they are tried.
from . import ibeacon, eddystone, altbeacon  # noqa: E402, F401, I001

__all__ = ["BeaconFormat", "advert_fields", "beacon_of", "formats", "get", "kinds", "passive_patterns", "register"]

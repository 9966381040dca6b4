"""Rotating iBeacon identifiers (docs/interface.md § Signed tokens), resolved on the box within ± one time slot.

`major << 16 | minor` is the first four bytes (big-endian) of
`HMAC-SHA256(customer_key, "edge-agent/rid/v1|" + str(slot))`, `slot = floor(unix_time / rotation_s)`,
under the chain's loyalty UUID. Without the key a scanner sees a new, unlinkable id every slot.
"""

from __future__ import annotations

import hashlib
import hmac

from ..core.events import BeaconId


def rotating_id(key_hex: str, slot: int) -> tuple[int, int]:
    """(major, minor) a phone or tag advertises during `slot`."""
    digest = hmac.new(bytes.fromhex(key_hex), f"edge-agent/rid/v1|{slot}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:4], "big")
    return value >> 16, value & 0xFFFF


class RotatingIds:
    """A lookup table of every consenting customer's ids for the previous, current and next slot."""

    def __init__(self, uuid: str, rotation_s: int, keys: dict[str, str]) -> None:
        self._uuid = uuid.lower()
        self._rotation_s = rotation_s
        self._keys = keys  # customer_id → hex key
        self._slot: int | None = None
        self._table: dict[tuple[int, int], str] = {}

    def _build(self, slot: int) -> None:
        self._table = {
            rotating_id(key, s): customer_id
            for customer_id, key in self._keys.items()
            for s in (slot - 1, slot, slot + 1)
        }
        self._slot = slot

    def resolve(self, beacon: BeaconId, ts: float) -> str | None:
        """The customer advertising `beacon` at `ts`, if it is one of their rotating ids."""
        uuid, _, rest = beacon.value.partition(":")
        if uuid != self._uuid:
            return None
        slot = int(ts // self._rotation_s)
        if slot != self._slot:
            self._build(slot)
        major, _, minor = rest.partition(":")
        try:
            return self._table.get((int(major), int(minor)))
        except ValueError:
            return None

"""Rotating iBeacon identifiers (docs/interface.md § Signed tokens), resolved on the box within ± one time slot.

`major << 16 | minor` is the first four bytes (big-endian) of
`HMAC-SHA256(customer_key, "edge-agent/rid/v1|" + str(slot))`, `slot = floor(unix_time / rotation_s)`,
under the chain's loyalty UUID. Without the key a scanner sees a new, unlinkable id every slot.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ..core.events import BeaconId


def rotating_id(key_hex: str, slot: int) -> tuple[int, int]:
    """(major, minor) a phone or tag advertises during `slot`."""
    digest = hmac.new(bytes.fromhex(key_hex), f"edge-agent/rid/v1|{slot}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:4], "big")
    return value >> 16, value & 0xFFFF


class RotatingIds:
    """Every consenting customer's rotating ids for the previous, current and next slot.

    Compact, because a chain's CRM may hold a million keys: the keys in one byte string with
    their offsets, each slot's ids as a sorted `uint32` array beside the customers' row numbers
    (about 24 bytes per key for the three slots). A new slot costs one HMAC per key.
    """

    def __init__(self, uuid: str, rotation_s: int, keys: Iterable[tuple[int, str]]) -> None:
        self._uuid = uuid.lower()
        self._rotation_s = rotation_s
        rowids: list[int] = []
        offsets = [0]
        blob = bytearray()
        for rowid, key in keys:
            try:
                blob += bytes.fromhex(key)
            except ValueError:
                continue  # an import never stores one; a hand-edited database might
            rowids.append(rowid)
            offsets.append(len(blob))
        self._rowids = np.asarray(rowids, dtype=np.int64)
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._blob = bytes(blob)
        self._slots: dict[int, tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]] = {}
        self.tables_built = 0

    def __len__(self) -> int:
        return len(self._rowids)

    def _table(self, slot: int, now_slot: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        table = self._slots.get(slot)
        if table is None:
            message = f"edge-agent/rid/v1|{slot}".encode()
            blob, cut = self._blob, self._offsets.tolist()
            ids = np.fromiter(
                (
                    int.from_bytes(hmac.new(blob[cut[i] : cut[i + 1]], message, hashlib.sha256).digest()[:4], "big")
                    for i in range(len(self._rowids))
                ),
                dtype=np.uint32,
                count=len(self._rowids),
            )
            self.tables_built += 1
            order = np.argsort(ids, kind="stable")
            table = (ids[order], self._rowids[order])
            self._slots[slot] = table
            # Around the present slot, not the one just built: the three stay until time moves on.
            for old in [s for s in self._slots if abs(s - now_slot) > 1]:
                del self._slots[old]
        return table

    def warm(self, ts: float) -> None:
        """Build the previous, current and next slot's tables ahead of the first advert."""
        slot = int(ts // self._rotation_s)
        for s in (slot, slot - 1, slot + 1):
            self._table(s, slot)

    def resolve(self, beacon: BeaconId, ts: float) -> int | None:
        """The row of the customer advertising `beacon` at `ts`, if it is one of their rotating ids."""
        uuid, _, rest = beacon.value.partition(":")
        if uuid != self._uuid or not len(self._rowids):
            return None
        major, _, minor = rest.partition(":")
        try:
            wanted = int(major) << 16 | int(minor)
        except ValueError:
            return None
        slot = int(ts // self._rotation_s)
        for s in (slot, slot - 1, slot + 1):
            ids, rows = self._table(s, slot)
            at = int(np.searchsorted(ids, wanted))
            if at < len(ids) and int(ids[at]) == wanted:
                return int(rows[at])
        return None

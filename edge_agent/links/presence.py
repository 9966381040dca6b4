"""Who holds this store's broker identity: a retained presence message, cleared by the will.

Two boxes with one identity (a cloned SD card, a copied config) take each other's MQTT sessions
over. Each box's publisher — whose client id is its own, so that two boxes can both be connected
— says on `{topic_prefix}/agent/presence/{box}` (retained) that it is there while it is
connected, its last will says when it is gone, and it listens to `.../presence/+`: another box
announcing itself under this store is a clash, named in the log and in status. `doctor` reads the
same topic before this box starts. A box is named by a hash of its hardware address, hostname
and data directory — it names no person, a clone of the SD card in another box still tells itself
apart, and so do two agents with their own data dirs on one machine.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Box:
    box: str
    host: str

    @classmethod
    def this(cls, data_dir: Path) -> Box:
        host = socket.gethostname()
        try:
            st = data_dir.stat()
            place = f"{st.st_dev}:{st.st_ino}"
        except OSError:
            place = str(data_dir)
        digest = hashlib.sha256(f"{uuid.getnode():012x}|{host}|{place}".encode()).hexdigest()[:12]
        return cls(digest, host)


def topic(topic_prefix: str, box: Box | None = None) -> str:
    """This box's presence topic, or the filter for every box's (`box` None)."""
    return f"{topic_prefix}/agent/presence/{box.box if box else '+'}"


def announcement(box: Box, *, online: bool, client_id: str) -> bytes:
    return json.dumps(
        {"box": box.box, "host": box.host, "client_id": client_id, "online": online, "ts": round(time.time(), 3)}
    ).encode()


def read(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("box"), str) else None

"""Who holds this store's broker identity: a retained presence message, cleared by the will.

Two boxes with one identity (a cloned SD card, a copied config) take each other's MQTT sessions
over. The publisher says on `{topic_prefix}/agent/presence` (retained) which box it is while it
is connected, and its last will says when it is gone; `doctor` reads it to tell whether the
client ids are free before this box starts. The box is named by a hash of its hardware address
and hostname — it names no person, and a clone of the SD card still tells itself apart.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Box:
    box: str
    host: str

    @classmethod
    def this(cls) -> Box:
        host = socket.gethostname()
        digest = hashlib.sha256(f"{uuid.getnode():012x}|{host}".encode()).hexdigest()[:12]
        return cls(digest, host)


def topic(topic_prefix: str) -> str:
    return f"{topic_prefix}/agent/presence"


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

"""Writing agent configs for tests and tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..config.agent import generated_secrets


def write_config(path: Path, *, data_dir: Path, store_id: str = "store-test", **sections: Any) -> Path:
    """A valid config at `path` with fresh secrets; `sections` override top-level keys."""
    s = generated_secrets()
    data: dict[str, Any] = {
        "store_id": store_id,
        "data_dir": str(data_dir),
        "http": {"host": "127.0.0.1", "port": 0, "staff_token": s["staff_token"]},
        "privacy": {"salt": s["salt"], "k_anonymity": 1},
        "checkin": {"key": s["checkin_key"]},
        "uplink": {"kind": "off"},
        "ble": {"mode": "off"},  # tests have no radio; scenarios and remote scanners stand in
        # Never the machine's own broker on 1883: a test that wants one starts it and says so.
        "mqtt": {"url": "mqtt://127.0.0.1:1"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path
